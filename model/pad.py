"""The drawing pad's constants: the one source for the page, the server and the tests.

The page (templates/index.html) receives them rendered into its markup, so static/ never copies
them; the number reader (model/numbers.py) was fitted on drawings of this size, and the stroke
renderer (handwriting/render.py) draws training and test digits with the same pen.
"""

# The page sends its drawing this many pixels high (a square pad: 112 x 112). The number pad is
# this high too, and NUMBER_PAD_ASPECT times as wide.
SENT_SIZE = 112
NUMBER_PAD_ASPECT = 3
# The pen's width as a share of the pad's height.
PEN_WIDTH_SHARE = 1 / 14


def page_constants():
    """What the page's script reads from its markup (data attributes of <body>)."""
    return {
        "sent-size": SENT_SIZE,
        "number-pad-aspect": NUMBER_PAD_ASPECT,
        "pen-width-share": PEN_WIDTH_SHARE,
    }
