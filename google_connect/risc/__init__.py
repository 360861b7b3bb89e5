"""Cross-Account Protection: the receiver of Google's security events, the
Security Event Token's checks, what each event does to the stored grants, the
stream's registration, and the audit trail's model.
"""
