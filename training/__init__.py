"""What the training scripts share: the network, its augmentation and its evaluation."""
