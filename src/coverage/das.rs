//! DAS placeholder (filled in below).
