"""The answer of /predict/number: a whole number's digits, as the number reader (model/numbers.py)
finds them in the ink, each read as /predict/ reads a lone digit."""

import numpy as np

from model.classifier import ModelNotReady
from model.preprocessing import ink_of
from model.writer_examples import personalised

NO_NUMBER_REASON = "No ink found: write a number (or upload a picture of one) and try again."


def read_number(classifier, data, examples=None, strokes=None):
    """The number in one image's bytes, and each digit's reading with the box of its ink in the
    image's pixels, left to right. With a writer's examples (model/writer_examples.py), each
    digit is blended with their vote where one is close, and the answer says whether any was.

    With the `strokes` the page drew ((N, 3) [x, y, t] arrays in the image's pixels), each
    digit is a group of strokes (model/stroke_groups.py), read by the image network and, where
    it is loaded, the stroke network (`classifier.with_strokes`); the answer names the networks
    that read it ("networks") and whether the strokes were used ("read_from": "strokes", or
    "pixels" where they do not match the image, which is then read as without strokes)."""
    if classifier.number_reader is None:
        raise ModelNotReady(classifier.number_reader_error or "The number reader is not loaded.")
    digits, probabilities = number_digits(classifier, ink_of(data, **classifier.image_limits), strokes=strokes)
    extra = {}
    if strokes is not None:
        by_strokes = bool(digits) and all(read.strokes is not None for read in digits)
        strokes_read = np.zeros(len(digits), dtype=bool)
        if by_strokes:
            probabilities, strokes_read = classifier.with_strokes(probabilities, [read.strokes for read in digits])
        extra = {"networks": classifier.networks(bool(strokes_read.any())) if digits else [],
                 "read_from": "strokes" if by_strokes else "pixels"}
    if examples is None:
        return {**number_answer(classifier, digits, probabilities), **extra}
    changed = np.zeros(len(digits), dtype=bool)
    if digits and len(examples):
        features = classifier.features_of(np.stack([read.digit_image for read in digits]))
        if features is not None:
            probabilities, changed = personalised(probabilities, features, examples)
    return {**number_answer(classifier, digits, probabilities), **extra, "personal": bool(changed.any())}


def number_answer(classifier, digits, probabilities):
    """The answer for the digits found and their probabilities (digits, 10)."""
    if not digits:
        return {"number": "", "digits": [], "unsure": False, "reason": NO_NUMBER_REASON,
                "model_version": classifier.version}
    answers = []
    for read, row in zip(digits, probabilities):
        answer = classifier.postprocess(read.digit_image, row)
        answers.append({
            "digit": answer["digit"], "confidence": answer["confidence"],
            "probabilities": answer["probabilities"], "unsure": answer["unsure"],
            "box": read.box, "input_image": answer["input_image"],
        })
    return {
        "number": "".join(str(answer["digit"]) for answer in answers),
        "digits": answers,
        "unsure": any(answer["unsure"] for answer in answers),
        "model_version": classifier.version,
    }


def number_digits(classifier, ink, reader=None, strokes=None):
    """The digits of a number in `ink` as the reader (by default the classifier's) finds them
    (in the `strokes` drawn, where they match the ink), left to right, and their probabilities
    (digits, 10): each read as /predict/ reads a lone digit, with test-time augmentation where
    the network is unsure."""
    digits = (reader or classifier.number_reader).read(ink, classifier.predict_number_candidates, strokes)
    if not digits:
        return [], np.zeros((0, 10), dtype=np.float32)
    probabilities = np.stack([read.probabilities for read in digits])
    return digits, classifier.test_time_augmented(np.stack([read.digit_image for read in digits]), probabilities,
                                                  classifier.runtimes.number)
