"""The counting stage: tag columns -> mergeable tallies per population x gender x signal."""
