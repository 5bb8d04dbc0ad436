"""The customer pyramid: every customer sits in exactly one tier."""

from enum import StrEnum


class Tier(StrEnum):
    PLATINUM = "platinum"
    GOLD = "gold"
    IRON = "iron"
    LEAD = "lead"
