"""What runs in a worker's batch processes (web/batch.py starts them): a share of a large batch
read on the CPU, each image answered as /predict/ answers it."""

import signal

from model.classifier import DigitClassifier, ModelNotReady
from model.preprocessing import preprocess_each

# In a batch process: the classifier of each model folder, loaded on its first batch.
_batch_classifiers = {}


def ignore_termination_signal():
    """A batch process's start: Heroku sends SIGTERM to every process of the dyno; a batch
    process finishes the batch in hand and ends with its worker, which shuts it down."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def classify_each(images, settings):
    """Each image's answer as /predict/ gives it, or ("error", status, message), for a share of
    a large batch on the CPU; `settings` are the worker's classifier's batch_settings()."""
    model_dir = settings["model_dir"]
    classifier = _batch_classifiers.get(model_dir)
    # Loaded again for another version of the folder's model, or other settings.
    if classifier is None or classifier.batch_settings() != settings:
        classifier = DigitClassifier(
            model_dir, unsure_below=settings["unsure_below"], image_limits=settings["image_limits"],
            tta_below=settings["tta_below"], runtime="litert", number_inference_threads=1, reads_numbers=False,
        )
        classifier.load()
        if not classifier.ready:
            raise ModelNotReady(f"The model failed to load: {classifier.load_error}")
        _batch_classifiers[model_dir] = classifier
    return classifier.answer_each(preprocess_each(images, classifier.image_limits))
