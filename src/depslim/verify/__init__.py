"""`depslim verify`: build the slim image and prove, inside a network-less container, that every
module the served code reaches imports and every implicit need is there."""

from depslim.verify.run import VerifyOptions, VerifyReport, verify

__all__ = ["VerifyOptions", "VerifyReport", "verify"]
