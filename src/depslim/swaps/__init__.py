"""Swap and removal knowledge: rules from data, conditions on scan evidence, measured savings."""

from depslim.swaps.rules import RuleSet, SwapRule, load_rules, packaged_rules

__all__ = ["RuleSet", "SwapRule", "load_rules", "packaged_rules"]
