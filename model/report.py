"""What /api/model says about the served classifier: its version and figures, its runtimes and
why they were chosen, its test-time augmentation, and the stroke network beside it."""

from model import test_time_augmentation


def describe(classifier):
    metadata = classifier.metadata
    writers = metadata.get("evaluation", {}).get("validation_writers", {})
    worst = writers.get("worst_writer")
    return {
        "version": classifier.version,
        "test_accuracy": metadata.get("test_accuracy"),
        # Digits of people the model never saw, drawn as the page draws (bench/writer_accuracy.py).
        "validation_writers_accuracy": writers.get("accuracy"),
        "worst_validation_writer_accuracy": writers.get("per_writer", {}).get(str(worst)),
        "validation_writers": metadata.get("writer_split", {}).get("validation"),
        "parameters": metadata.get("parameters"),
        "trained_at": metadata.get("trained_at"),
        "runtime": classifier.runtime,
        "device": classifier.device,
        # Which runtime serves which request sizes, and the figures it was chosen by.
        "runtimes": classifier.runtimes.choice,
        # Images the network is unsure of are read again as these variants (degrees, scale):
        # test-time augmentation (the key keeps the name it was published under).
        "second_look": test_time_augmentation.describe(classifier.tta_below),
        # The network that reads the strokes a drawing was made with (model/strokes.py).
        "stroke_network": classifier.stroke_network.describe() if classifier.reads_strokes
        else {"absent": True, "reason": classifier.stroke_network_error},
        "ready": classifier.ready,
        "seconds_to_ready": classifier.seconds_to_ready,
        "error": classifier.load_error,
    }
