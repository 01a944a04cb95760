"""The metric center: a static site of the project's metrics (`docs generate`) and its server (`docs serve`)."""

from __future__ import annotations

from metricsctl.site.extract import DAILY_DAYS, MissingTables
from metricsctl.site.generate import SITE_FOLDER, SiteResult, generate, site_data
from metricsctl.site.words import LANGUAGES

__all__ = ["DAILY_DAYS", "LANGUAGES", "SITE_FOLDER", "MissingTables", "SiteResult", "generate", "site_data"]
