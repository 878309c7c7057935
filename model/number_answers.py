"""The answer of /predict/number: a whole number's digits, as the number reader (model/numbers.py)
finds them in the ink, each read as /predict/ reads a lone digit."""

import numpy as np

from model.classifier import ModelNotReady
from model.preprocessing import ink_of
from model.writer_examples import personalised

NO_NUMBER_REASON = "No ink found: write a number (or upload a picture of one) and try again."


def read_number(classifier, data, examples=None):
    """The number in one image's bytes, and each digit's reading with the box of its ink in the
    image's pixels, left to right. With a writer's examples (model/writer_examples.py), each
    digit is blended with their vote where one is close, and the answer says whether any was."""
    if classifier.number_reader is None:
        raise ModelNotReady(classifier.number_reader_error or "The number reader is not loaded.")
    digits, probabilities = number_digits(classifier, ink_of(data, **classifier.image_limits))
    if examples is None:
        return number_answer(classifier, digits, probabilities)
    changed = np.zeros(len(digits), dtype=bool)
    if digits and len(examples):
        features = classifier.features_of(np.stack([read.digit_image for read in digits]))
        if features is not None:
            probabilities, changed = personalised(probabilities, features, examples)
    return {**number_answer(classifier, digits, probabilities), "personal": bool(changed.any())}


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


def number_digits(classifier, ink, reader=None):
    """The digits of a number in `ink` as the reader (by default the classifier's) finds them,
    left to right, and their probabilities (digits, 10): each read as /predict/ reads a lone
    digit, with test-time augmentation where the network is unsure."""
    digits = (reader or classifier.number_reader).read(ink, classifier.predict_number_candidates)
    if not digits:
        return [], np.zeros((0, 10), dtype=np.float32)
    probabilities = np.stack([read.probabilities for read in digits])
    return digits, classifier.test_time_augmented(np.stack([read.digit_image for read in digits]), probabilities,
                                                  classifier.runtimes.number)
