"""The label check (training/label_quality.py) on planted flipped labels."""

import numpy as np

from training.label_quality import capped, judge, unreliable


def readings(labels, sure=0.98, rng=None):
    """Probabilities that read each label with `sure` confidence."""
    probabilities = np.full((len(labels), 10), (1 - sure) / 9)
    probabilities[np.arange(len(labels)), labels] = sure
    return probabilities


def test_flipped_labels_from_one_source_are_quarantined_and_honest_hard_corrections_are_not():
    rng = np.random.default_rng(0)
    # Five honest writers: right answers confirmed, and a few misreads corrected (the network
    # read another digit, unsure-ish: the corrected label has some probability).
    labels, read_as, kinds, writers = [], [], [], []
    for writer in range(5):
        for digit in rng.integers(0, 10, size=40):
            labels.append(digit), read_as.append(digit), kinds.append("right"), writers.append(f"honest-{writer}")
        for digit in (4, 9):
            labels.append(digit), read_as.append((digit + 1) % 10), kinds.append("wrong"), writers.append(f"honest-{writer}")
    honest = len(labels)
    probabilities = readings(np.array(read_as))
    for index in range(honest):
        if kinds[index] == "wrong":  # The network's second choice was the right digit.
            probabilities[index] = 0.001
            probabilities[index, read_as[index]], probabilities[index, labels[index]] = 0.7, 0.291
    # The attacker: sevens the network reads surely, every one labelled 1, from 30 tokens.
    poisoned = 300
    labels += [1] * poisoned
    kinds += ["wrong"] * poisoned
    writers += [f"attacker-{index % 30}" for index in range(poisoned)]
    probabilities = np.concatenate([probabilities, readings(np.full(poisoned, 7), sure=0.9999)])
    clients = [f"address-{writer}" for writer in writers]

    verdicts = judge(np.array(labels), probabilities, np.array(kinds), writers, clients, ["unchecked"] * len(labels))
    assert (verdicts.statuses[honest:] == "quarantined").all()
    assert (verdicts.statuses[:honest] == "trusted").all()
    assert verdicts.unreliable_writers == {f"attacker-{index}" for index in range(30)}


def test_the_same_attack_from_one_address_without_tokens_is_quarantined_by_the_address():
    honest_digits = np.arange(30) % 10  # honest confirmations of every digit, sevens included
    labels = np.concatenate([honest_digits, [1] * 30])
    probabilities = readings(np.concatenate([honest_digits, [7] * 30]))
    kinds = np.array(["right"] * 30 + ["wrong"] * 30)
    writers = [f"honest-{index % 3}" for index in range(30)] + [None] * 30
    clients = [f"address-{index % 3}" for index in range(30)] + ["the-attacker"] * 30
    verdicts = judge(labels, probabilities, kinds, writers, clients, ["unchecked"] * 60)
    assert verdicts.unreliable_clients == {"the-attacker"}
    assert (verdicts.statuses[30:] == "quarantined").all() and (verdicts.statuses[:30] == "trusted").all()


def test_a_persons_review_stands_and_a_right_that_contradicts_the_reading_is_flagged():
    labels = np.array([1, 1, 1, 2])
    probabilities = readings(np.array([7, 7, 7, 2]))
    kinds = np.array(["right", "right", "right", "right"])
    writers, clients = ["w"] * 4, ["c"] * 4
    verdicts = judge(labels, probabilities, kinds, writers, clients, ["accepted", "unchecked", "rejected", "unchecked"])
    assert verdicts.flagged.tolist() == [True, True, True, False]
    assert verdicts.statuses.tolist() == ["accepted", "quarantined", "rejected", "quarantined"]


def test_few_rows_do_not_make_an_owner_unreliable():
    flagged = np.array([True, True, False])
    assert unreliable(["a", "a", "b"], flagged) == frozenset()  # MIN_ROWS
    assert unreliable(["a", "a", "a"], flagged) == {"a"}


def test_no_owner_supplies_more_than_the_share_newest_kept():
    owners = ["big"] * 8 + ["small-1", "small-2"]
    kept = capped(np.arange(10), owners, most_share=0.3)
    assert kept.tolist() == [5, 6, 7, 8, 9]  # three of "big"'s newest (0.3 of 10), and the others
    assert capped(np.arange(10), owners, most_share=1.0).tolist() == list(range(10))


def test_an_attack_spread_thin_over_new_tokens_and_addresses_is_quarantined_row_by_row():
    honest_digits = np.arange(200) % 10
    labels = np.concatenate([honest_digits, [1] * 40])
    probabilities = readings(np.concatenate([honest_digits, [7] * 40]), sure=0.9999)
    kinds = np.array(["right"] * 200 + ["wrong"] * 40)
    writers = [f"honest-{index % 10}" for index in range(200)] + [f"new-{index}" for index in range(40)]
    clients = [f"address-{index % 10}" for index in range(200)] + [f"elsewhere-{index}" for index in range(40)]
    verdicts = judge(labels, probabilities, kinds, writers, clients, ["unchecked"] * 240)
    assert not verdicts.unreliable_writers  # one row each: too few to judge the writers
    assert (verdicts.statuses[200:] == "quarantined").all() and (verdicts.statuses[:200] == "trusted").all()
