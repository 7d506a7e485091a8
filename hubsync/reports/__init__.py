"""The audit half: thread views, the logging report, contact records and `why`.

Every function returns dataclasses (each with ``to_dict()`` for JSON) for the CLI to render.
"""

from hubsync.reports.campaign import CampaignReport, campaign_report
from hubsync.reports.contacts import ContactRecord, ContactSummary, contact_list, contact_record
from hubsync.reports.logging_report import LoggingReport, logging_report, team_report
from hubsync.reports.thread_view import (
    FolderAudit,
    SplitResult,
    ThreadMessage,
    ThreadView,
    audit,
    audit_folder,
    split,
    thread_report,
)
from hubsync.reports.why import UNKNOWN as UNKNOWN_MESSAGE
from hubsync.reports.why import WhyVerdict, why, why_with_server

__all__ = [
    "CampaignReport",
    "campaign_report",
    "ContactRecord",
    "ContactSummary",
    "FolderAudit",
    "LoggingReport",
    "SplitResult",
    "ThreadMessage",
    "ThreadView",
    "UNKNOWN_MESSAGE",
    "WhyVerdict",
    "audit",
    "audit_folder",
    "contact_list",
    "contact_record",
    "logging_report",
    "team_report",
    "split",
    "thread_report",
    "why",
    "why_with_server",
]
