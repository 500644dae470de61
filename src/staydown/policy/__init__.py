"""The repeat-infringer policy: strike ledger, thresholds, and the steps they trigger."""
