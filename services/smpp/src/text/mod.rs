//! Text on the air interface: GSM 03.38, Latin-1 and UCS2 codecs, splitting, reassembly.
