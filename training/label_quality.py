"""Which corrections to trust before training on them.

A correction from the public may be wrong on purpose: one client posting a few hundred drawings
of sevens labelled as ones would move the training set and the promotion gate together. An
honest "wrong" correction is, by definition, one the served network disagreed with, so
disagreement alone cannot be the test. Two things together are:

- **the row**: cleanlab's `find_label_issues` over the served network's probabilities, which
  are out-of-sample (it has seen none of the corrections): it estimates how often each label is
  given to each digit across all the corrections and flags the rows whose label the network
  finds least likely, as many as that estimate says are wrong;
- **who sent it**: a writer (their token) or a client address whose flagged rows are at least
  UNRELIABLE_SHARE of their corrections (and at least MIN_ROWS of them) is unreliable: a person
  correcting a few hard drawings among many right ones is not, an attacker whose every label
  contradicts a confident reading is.

A flagged row from an unreliable writer or address is quarantined, and so is every row of a
writer or address that unreliable; a flagged row from a reliable writer is trusted, since the
hardest drawings are the ones most worth learning from. A writer or address with too few rows
to be judged (under MIN_ROWS) gets no benefit of the doubt for a flagged label the network
finds VERY_UNLIKELY: an attacker spreading a few rows over many tokens and addresses. Rows a person reviewed keep their
verdict. Quarantined rows are kept, never trained on, never measured on, and shown for review
(`/admin/`).
"""

import warnings
from collections import Counter
from dataclasses import dataclass

import numpy as np

STATUSES = ("unchecked", "trusted", "quarantined", "accepted", "rejected")
REVIEWED = ("accepted", "rejected")
# What training and the promotion gate use.
USABLE = ("trusted", "accepted")
UNRELIABLE_SHARE = 0.5
MIN_ROWS = 3
# Measured on writers outside our data: honest corrections gave their label 4.5e-5 to 0.5
# (median 0.04); sevens labelled 1 at most 7.3e-3 (median 3.3e-6).
VERY_UNLIKELY = 1e-3
# cleanlab needs a few rows of a label to estimate how often that label is wrong; with fewer
# corrections than this in all, no row is flagged on the estimate, only on a contradiction.
FEWEST_FOR_CLEANLAB = 20


@dataclass(frozen=True)
class Verdicts:
    statuses: np.ndarray  # the new status of each row
    flagged: np.ndarray  # bool: cleanlab's verdict on the row alone
    unreliable_writers: frozenset
    unreliable_clients: frozenset


def flagged_rows(labels, probabilities, kinds):
    """cleanlab's label issues, and every "right" correction whose label is not what the network
    read (the server stores its own reading: such a "right" contradicts it)."""
    labels = np.asarray(labels, dtype=np.int64)
    flagged = np.zeros(len(labels), dtype=bool)
    if len(labels) >= FEWEST_FOR_CLEANLAB and len(np.unique(labels)) > 1:
        from cleanlab.filter import find_label_issues

        with warnings.catch_warnings():
            # It warns of digits with few corrections: normal while corrections are few.
            warnings.simplefilter("ignore", UserWarning)
            flagged |= find_label_issues(labels, np.asarray(probabilities, dtype=np.float64))
    flagged |= (np.asarray(kinds) == "right") & (np.asarray(probabilities).argmax(axis=1) != labels)
    return flagged


def unreliable(owners, flagged):
    """The owners (writers or clients; None: none) whose flagged rows are UNRELIABLE_SHARE or
    more of their rows, with at least MIN_ROWS rows."""
    found = set()
    owners = np.asarray(owners, dtype=object)
    for owner in set(owners.tolist()) - {None}:
        mine = owners == owner
        if mine.sum() >= MIN_ROWS and flagged[mine].mean() >= UNRELIABLE_SHARE:
            found.add(owner)
    return frozenset(found)


def judge(labels, probabilities, kinds, writers, clients, statuses):
    """The statuses the rows should have now (see the module's text)."""
    flagged = flagged_rows(labels, probabilities, kinds)
    bad_writers, bad_clients = unreliable(writers, flagged), unreliable(clients, flagged)
    from_unreliable = np.array([writer in bad_writers or client in bad_clients
                                for writer, client in zip(writers, clients)], dtype=bool)
    label_probability = np.asarray(probabilities)[np.arange(len(labels)), np.asarray(labels, dtype=np.int64)]
    # How many rows each writer and address has (None, no owner: none to judge by), counted once.
    writer_rows, client_rows = Counter(writers), Counter(clients)
    writer_rows[None] = client_rows[None] = 0
    unjudged = np.array([writer_rows[writer] < MIN_ROWS and client_rows[client] < MIN_ROWS
                         for writer, client in zip(writers, clients)], dtype=bool)
    doubted = flagged & unjudged & (label_probability < VERY_UNLIKELY)
    new = np.where(from_unreliable | doubted, "quarantined", "trusted").astype(object)
    reviewed = np.isin(np.asarray(statuses, dtype=object), REVIEWED)
    new[reviewed] = np.asarray(statuses, dtype=object)[reviewed]
    return Verdicts(new, flagged, bad_writers, bad_clients)


def capped(indexes, owners, most_share):
    """`indexes` (the rows to train on, newest last) with no owner supplying more than
    `most_share` of them: each owner's newest rows are kept up to the cap."""
    indexes = np.asarray(indexes)
    if most_share >= 1 or not len(indexes):
        return indexes
    most = max(1, int(most_share * len(indexes)))
    kept, counts = [], {}
    for index in indexes[::-1]:
        owner = owners[index]
        if owner is not None and counts.get(owner, 0) >= most:
            continue
        counts[owner] = counts.get(owner, 0) + 1
        kept.append(index)
    return np.array(sorted(kept), dtype=indexes.dtype)
