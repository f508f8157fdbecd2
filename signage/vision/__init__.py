"""Everything that touches pixels, and nothing else does.

Frames are read, analysed and dropped inside this package. What leaves it is an
`signage.audience.AudienceSnapshot`: numbers only.
"""
