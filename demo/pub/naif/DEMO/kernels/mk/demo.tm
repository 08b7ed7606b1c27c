KPL/MK

kdb demo metakernel
-----------------------------------------------------------------------
Loads the demo archive's kernels. Like NAIF's own metakernels it is
written to be used from its mk/ directory: KERNELS is '..'. The
leapseconds kernel comes from generic_kernels (two levels further up)
and, byte for byte, also from the mission's lsk/ directory under
another name: kdb stores it once and remembers both names.

\begindata

PATH_VALUES     = ( '..'
                    '../../../generic_kernels' )

PATH_SYMBOLS    = ( 'KERNELS'
                    'GENERIC' )

KERNELS_TO_LOAD = ( '$GENERIC/lsk/demo_leapseconds.tls'
                    '$KERNELS/lsk/demo_lsk_v01.tls'
                    '$KERNELS/pck/demo_pck_v01.tpc'
                    '$KERNELS/fk/demo_spacecraft_frames_v01.tf' )

\begintext
