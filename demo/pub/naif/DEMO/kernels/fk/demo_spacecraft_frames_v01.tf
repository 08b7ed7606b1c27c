KPL/FK

kdb demo frames kernel: one fixed-offset (TK) frame for a fictional
spacecraft, DEMO_SC (ID -999000), aligned with J2000.

\begindata

FRAME_DEMO_SC                 = -999000
FRAME_-999000_NAME            = 'DEMO_SC'
FRAME_-999000_CLASS           = 4
FRAME_-999000_CLASS_ID        = -999000
FRAME_-999000_CENTER          = -999
TKFRAME_-999000_RELATIVE      = 'J2000'
TKFRAME_-999000_SPEC          = 'ANGLES'
TKFRAME_-999000_UNITS         = 'DEGREES'
TKFRAME_-999000_AXES          = ( 3, 2, 1 )
TKFRAME_-999000_ANGLES        = ( 0.0, 0.0, 0.0 )

\begintext
