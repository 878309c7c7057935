"""The blend of a writer's examples (model/writer_examples.py): close examples vote, far ones
never change an answer."""

import numpy as np

from model.writer_examples import WriterExamples, personalised


def one_hot(index, size=4):
    row = np.zeros(size, dtype=np.float32)
    row[index] = 1.0
    return row


def test_an_answer_with_no_close_example_is_the_networks_to_the_bit():
    probabilities = np.array([[0.1, 0.9] + [0.0] * 8], dtype=np.float32)
    examples = WriterExamples.of([one_hot(0)], [7])
    blended, changed = personalised(probabilities, np.array([one_hot(1)]), examples, nearest_from=0.5, weight=0.7)
    assert blended is probabilities and not changed.any()
    blended, changed = personalised(probabilities, np.array([one_hot(1)]), None)
    assert blended is probabilities and not changed.any()


def test_close_examples_vote_by_closeness_and_take_their_weight_of_the_answer():
    probabilities = np.array([[0.0, 1.0] + [0.0] * 8], dtype=np.float32)
    # Two examples of a 7, one of a 4: the query is closest to the sevens.
    examples = WriterExamples.of([one_hot(0), one_hot(0) + 0.1 * one_hot(1), one_hot(0) + one_hot(1)], [7, 7, 4])
    blended, changed = personalised(probabilities, np.array([one_hot(0)]), examples, nearest_from=0.5, weight=0.7)
    assert changed.tolist() == [True]
    assert blended[0].argmax() == 7 and np.isclose(blended[0].sum(), 1.0)
    assert np.isclose(blended[0][1], 0.3)  # The network keeps 1 - weight of the answer.
    assert blended[0][7] > blended[0][4] > 0


def test_each_row_is_blended_on_its_own():
    probabilities = np.tile(np.eye(10, dtype=np.float32)[3], (2, 1))
    examples = WriterExamples.of([one_hot(2)], [5])
    blended, changed = personalised(probabilities, np.array([one_hot(2), one_hot(3)]), examples)
    assert changed.tolist() == [True, False]
    assert blended[0].argmax() == 5 and np.array_equal(blended[1], probabilities[1])
