"""`depslim slim`: write the slim image (Dockerfile, requirements, lock, explanation) from evidence."""

from depslim.slim.plan import SlimOptions, SlimPlan, plan_slim

__all__ = ["SlimOptions", "SlimPlan", "plan_slim"]
