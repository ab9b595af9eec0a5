"""User-facing words for case rules: labels and error messages, translated by Flask-Babel.

Rules raise codes; this module is where a code becomes a sentence in the user's language.
"""
from __future__ import annotations

from flask_babel import gettext, lazy_gettext as _l

STATE_LABELS = {
    "clue": _l("Clue"),
    "verifying": _l("Verifying"),
    "rejected": _l("Not filed"),
    "filed": _l("Filed"),
    "investigating": _l("Investigating"),
    "legal_review": _l("Legal review"),
    "notified": _l("Party notified"),
    "hearing": _l("Hearing"),
    "decided": _l("Penalty decided"),
    "no_penalty": _l("No penalty"),
    "executing": _l("Executing"),
    "closed": _l("Closed"),
    "suspended": _l("Suspended"),
    "terminated": _l("Terminated"),
    "referred": _l("Referred to police"),
}

ACTION_LABELS = {
    "create": _l("Clue logged"),
    "edit": _l("Details edited"),
    "assign_officers": _l("Officers assigned"),
    "request_approval": _l("Approval requested"),
    "approve": _l("Approve"),
    "deny": _l("Refuse approval"),
    "accept": _l("Accept and verify"),
    "reject": _l("Do not file"),
    "extend_verification": _l("Extend verification"),
    "file": _l("File the case"),
    "investigate": _l("Start investigation"),
    "pause_clock": _l("Pause the clock"),
    "resume_clock": _l("Resume the clock"),
    "submit_review": _l("Send to legal review"),
    "pass_review": _l("Pass legal review"),
    "return_review": _l("Return from legal review"),
    "notify": _l("Notify the party"),
    "record_statement": _l("Record statement"),
    "request_hearing": _l("Hearing requested"),
    "conclude_hearing": _l("Conclude hearing"),
    "decide_penalty": _l("Decide penalty"),
    "decide_no_penalty": _l("Decide no penalty"),
    "serve": _l("Serve the decision"),
    "record_payment": _l("Record payment"),
    "close": _l("Close the case"),
    "suspend": _l("Suspend"),
    "resume": _l("Resume"),
    "terminate": _l("Terminate"),
    "extend_decision": _l("Extend the decision period"),
    "notify_reporter": _l("Reporter informed"),
    "record_decision": _l("Decision document recorded"),
    "publish": _l("Published"),
    "withdraw_publication": _l("Publication withdrawn"),
    "end_publication": _l("Publicity ended early"),
    "credit_repair": _l("Credit repaired"),
    "decision_changed": _l("Decision changed or revoked"),
    "refer": _l("Referred to the police"),
    "referral_returned": _l("Returned by the police"),
}

CHANNEL_LABELS = {
    "complaint": _l("Complaint"),
    "report": _l("Report"),
    "inspection": _l("Inspection finding"),
    "hotline_12315": _l("12315 transfer"),
    "online_monitoring": _l("Online monitoring"),
    "agency_transfer": _l("Transfer from another agency"),
    "police_reverse": _l("Reverse transfer from police"),
    "rights_holder": _l("Rights-holder request"),
    "g60_partner": _l("G60 partner city"),
}

IP_TYPE_LABELS = {
    "trademark": _l("Trademark"),
    "patent": _l("Patent"),
    "copyright": _l("Copyright"),
    "trade_secret": _l("Trade secret"),
    "geographical_indication": _l("Geographical indication"),
    "commercial_mark_confusion": _l("Commercial-mark confusion"),
}

PARTY_KIND_LABELS = {"business": _l("Business"), "person": _l("Person")}

PAUSE_KIND_LABELS = {
    "testing": _l("Testing or expert appraisal"),
    "public_notice": _l("Public notice"),
    "rights_holder_identification": _l("Rights-holder identification"),
}

CLOCK_LABELS = {
    "acceptance": _l("Accept or reject complaint"),
    "verification": _l("Verify and decide on filing"),
    "reporter_notice": _l("Inform the reporter"),
    "decision": _l("Decision deadline"),
    "legal_review": _l("Legal review"),
    "statement": _l("Party's statement / hearing request"),
    "service": _l("Serve the decision"),
    "payment": _l("Fine payment"),
}

ROLE_LABELS = {
    "inspector": _l("Inspector"),
    "case_officer": _l("Case officer"),
    "legal_reviewer": _l("Legal reviewer"),
    "approver": _l("Approver"),
    "coordinator": _l("Coordinator"),
    "publisher": _l("Credit publisher"),
    "agency_admin": _l("Agency administrator"),
    "sys_admin": _l("System administrator"),
    "sec_admin": _l("Security administrator"),
    "auditor": _l("Audit administrator"),
}

AGENCY_KIND_LABELS = {
    "market_supervision": _l("Market supervision bureau"),
    "police_econ": _l("Police economic crime unit"),
    "cultural_enforcement": _l("Cultural market enforcement"),
    "ip_office": _l("Intellectual property office"),
    "procuratorate": _l("Procuratorate"),
    "joint_office": _l("IP joint-meeting office"),
    "other": _l("Other"),
}

FIELD_LABELS = {
    "title": _l("Title"),
    "channel": _l("Channel"),
    "ip_type": _l("IP type"),
    "received_at": _l("Received on"),
    "description": _l("Description"),
    "location": _l("Location"),
    "infringement_kind": _l("Infringement"),
    "trademark_numbers": _l("Trademark registration numbers"),
    "reporter_name": _l("Reporter name"),
    "reporter_contact": _l("Reporter contact"),
    "is_major": _l("Major case"),
    "parties": _l("Parties"),
    "goods": _l("Goods involved"),
    "officers": _l("Officers"),
    "illegal_business_volume": _l("Illegal business volume"),
    "illegal_gains": _l("Illegal gains"),
    "sales_amount": _l("Sales amount"),
    "unsold_goods_value": _l("Unsold goods value"),
    "copies": _l("Copies"),
    "rights_holder_loss": _l("Rights holder’s loss"),
    "multiple_marks": _l("Two or more registered marks"),
    "repeat_offence": _l("Penalised for the same kind of act within 2 years"),
}

REFERRAL_STATE_LABELS = {
    "proposed": _l("Being prepared"),
    "pending_approval": _l("Awaiting the head's approval"),
    "refused": _l("Not referred"),
    "approved": _l("Approved, to be sent"),
    "sent": _l("Sent, awaiting receipt"),
    "received": _l("Received by the police"),
    "filed": _l("Filed by the police"),
    "handed_over": _l("Items and files handed over"),
    "not_filed": _l("Not filed by the police"),
    "reconsideration": _l("Reconsideration requested"),
    "upheld": _l("Not filing upheld"),
    "supervision": _l("Under procuratorate supervision"),
    "returned": _l("Returned to administrative handling"),
}

REFERRAL_ACTION_LABELS = {
    "propose": _l("Referral prepared"),
    "edit": _l("Referral edited"),
    "submit": _l("Submit for approval"),
    "withdraw": _l("Withdraw the referral"),
    "approve": _l("Approve the referral"),
    "refuse": _l("Refuse the referral"),
    "send": _l("Send to the police"),
    "receive": _l("Sign the receipt"),
    "forward": _l("Forward to the competent police"),
    "police_file": _l("File a criminal case"),
    "police_decline": _l("Decide not to file"),
    "request_reconsideration": _l("Request reconsideration"),
    "uphold": _l("Uphold not filing"),
    "propose_supervision": _l("Propose procuratorate supervision"),
    "require_explanation": _l("Require the police to explain"),
    "explain": _l("Explain not filing"),
    "require_filing": _l("Require the police to file"),
    "close_supervision": _l("Close supervision"),
    "accept_decline": _l("Accept and continue administratively"),
    "hand_over": _l("Hand over items and files"),
    "attach": _l("File attached"),
}

REFERRAL_CLOCK_LABELS = {
    "approval": _l("Head decides on the referral"),
    "sending": _l("Send to the police"),
    "police_decision": _l("Police decide whether to file"),
    "reconsideration_request": _l("Agency may request reconsideration"),
    "reconsideration_decision": _l("Police decide on reconsideration"),
    "supervision_proposal": _l("Agency may propose supervision"),
    "police_explanation": _l("Police explain not filing"),
    "police_filing_ordered": _l("Police file as required"),
    "handover": _l("Hand over items and files"),
}

PACKAGE_LABELS = {
    "transfer_letter": _l("Referral letter (涉嫌犯罪案件移送书)"),
    "investigation_report": _l("Investigation report (调查报告)"),
    "items_list": _l("List of items involved (涉案物品清单)"),
    "inspection_report": _l("Inspection report or expert opinion (检验报告/鉴定结论)"),
    "other_materials": _l("Other materials"),
}

METRIC_LABELS = {
    "illegal_business_volume": _l("Illegal business volume"),
    "illegal_gains": _l("Illegal gains"),
    "sales_amount": _l("Sales amount"),
    "unsold_goods_value": _l("Unsold goods value"),
    "copies": _l("Copies"),
    "rights_holder_loss": _l("Rights holder’s loss"),
}

SHARE_PART_LABELS = {
    "details": _l("Facts and location"),
    "parties": _l("Parties"),
    "goods": _l("Goods involved"),
    "amounts": _l("Amounts"),
    "timeline": _l("Timeline and clocks"),
    "complainant": _l("Complainant's identity"),
    "evidence": _l("Evidence files"),
}

VERIFY_PROBLEMS = {
    "population_hash": _l("The population does not match its recorded SHA-256."),
    "not_drawn": _l("Not drawn yet."),
    "seed_hash": _l("The seed does not match its recorded SHA-256."),
    "replay_failed": _l("The replay could not assign inspectors."),
    "result_differs": _l("The replayed result differs from the recorded result."),
}

IMPORT_REASONS = {
    "missing_credit_code": _l("credit code missing"),
    "bad_credit_code": _l("invalid credit code"),
    "missing_name": _l("name missing"),
    "bad_risk_class": _l("risk class not A–D"),
    "duplicate": _l("duplicate in the file"),
}

LEVEL_LABELS = {"entry": _l("Prosecution threshold"), "serious": _l("Serious circumstances")}
CONDITION_LABELS = {"": "", "multiple_marks": _l("Two or more registered marks"),
                    "repeat_offence": _l("Penalised for the same kind of act within 2 years")}

_MESSAGES = {
    # rule violations
    "wrong_state": _l("“%(action)s” is not possible while the case is “%(state)s”."),
    "verification_already_extended": _l("Verification has already been extended once."),
    "two_officers_required": _l("Assign at least two officers before filing (Administrative Penalty Law §42)."),
    "already_paused": _l("The clock is already paused."),
    "not_paused": _l("The clock is not paused."),
    "clock_paused": _l("Resume the clock first."),
    "review_already_passed": _l("The legal review has already passed."),
    "major_needs_review": _l("A major case needs legal review before notice and decision (§58)."),
    "review_not_passed": _l("The legal review has not passed yet."),
    "already_notified": _l("The party has already been notified."),
    "not_notified": _l("Notify the party before deciding (§44, §62)."),
    "hearing_request_late": _l("A hearing must be requested within 5 working days of the notice (by %(due)s)."),
    "hearing_not_eligible": _l("The proposed penalty does not give a right to a hearing (§63)."),
    "statement_window_open": _l("The party may state their case until %(due)s; record their statement or wait."),
    "no_fine": _l("This decision has no fine to pay."),
    "already_paid": _l("Payment has already been recorded."),
    "fine_unpaid": _l("The fine has not been paid."),
    "no_named_reporter": _l("The case has no named reporter to inform."),
    "reporter_already_notified": _l("The reporter has already been informed."),
    "extension_days_required": _l("Enter the number of days decided collectively."),
    "extension_days_too_long": _l("An extension cannot exceed 365 days."),
    # referrals
    "referral_not_found": _l("Referral not found."),
    "referral_wrong_state": _l("“%(action)s” is not possible while the referral is “%(state)s”."),
    "referral_team_too_small": _l("At least two officers form the referral team (§5)."),
    "referral_report_missing": _l("Write the referral report."),
    "referral_package_incomplete": _l("The referral package is incomplete: %(items)s."),
    "referral_deadline_passed": _l("The deadline for this step passed on %(due)s."),
    "referral_not_yours": _l("This step belongs to another agency or role."),
    "referral_agency_kind": _l("Choose an agency of the right kind."),
    "referral_case_state": _l("A case can be referred while it is verified or investigated."),
    "referral_already_open": _l("The case already has an open referral."),
    "referral_not_editable": _l("The referral can only be edited while it is being prepared."),
    "referral_forward_same": _l("Forward to a different police agency."),
    "no_referral_reason_required": _l("The amounts meet a criminal threshold (%(rules)s). An administrative decision without referral needs a written reason (at least 10 characters); the procuratorate sees it."),
    "upload_type": _l("Only PDF, JPEG and PNG files are accepted (checked by content)."),
    "upload_too_large": _l("The file is larger than %(mb)s MB."),
    "upload_empty": _l("The file is empty."),
    # penalties and publication
    "licence_required": _l("Name and number of the licence suspended or revoked."),
    "valid_until_before_decision": _l("The validity cannot end before the decision date."),
    "decision_number_taken": _l("Another decision of this agency has this number."),
    "decision_published_locked": _l("A published decision cannot be edited; withdraw it first."),
    "not_publishable": _l("This decision is not published (warning only, simple procedure, or minor under the current rules)."),
    "publication_closed": _l("The publication was withdrawn or has ended."),
    "already_published": _l("Already published there."),
    "export_job_not_found": _l("Export not found."),
    "export_job_not_ready": _l("This export is not finished yet."),
    "export_job_file_changed": _l("The exported file is missing or was changed: start the export again."),
    "export_job_interrupted": _l("The export was interrupted (the scheduler stopped): start it again."),
    "not_published": _l("Not published yet."),
    "repair_too_early": _l("Credit repair can be recorded from %(date)s."),
    "penalty_excludes_early_end": _l("Closure, revocation and restriction penalties are never taken down early."),
    "published_less_than_3_months": _l("Published for less than three months."),
    "not_corrected": _l("The party has not corrected the violation."),
    "no_commitment": _l("The party has not made a public commitment."),
    "repeat_penalty": _l("The party was penalised again for the same kind of act."),
    "on_dishonesty_list": _l("The party is in the abnormal-operation or serious-dishonesty list."),
    # inspections
    "ratio_invalid": _l("Enter a ratio between 0 and 1 (e.g. 0.05 for 5%)."),
    "item_code_taken": _l("An item with this code exists."),
    "ratio_cap_required": _l("A general item needs its ratio cap."),
    "import_header": _l("The file must be a CSV with the columns 统一社会信用代码 and 名称 in its first row."),
    "import_unreadable": _l("The file cannot be read as UTF-8 CSV (line %(line)s)."),
    "business_unknown": _l("No business with this credit code in the directory."),
    "period_reversed": _l("The period ends before it starts."),
    "ratio_or_count": _l("Give a ratio or a number to draw."),
    "ratio_over_cap": _l("Above the item's ratio cap (%(cap)s)."),
    "two_inspectors": _l("Between 2 and 6 inspectors per business."),
    "due_outside_period": _l("The due date must fall within the plan's period."),
    "already_drawn": _l("This item has already been drawn."),
    "empty_population": _l("No business matches the item's filters."),
    "roster_too_small": _l("Not enough active inspectors in the roster."),
    "seed_missing": _l("The committed seed is missing; commit a new draw."),
    "not_enough_inspectors": _l("Business %(business)s has fewer than the required inspectors without a conflict."),
    "not_your_inspection": _l("Only the inspectors drawn for this inspection enter and publish its result."),
    "result_first": _l("Enter the result first."),
    # sharing
    "share_own_agency": _l("The case already belongs to that agency."),
    "share_parts_invalid": _l("Choose which parts of the case to share."),
    "share_expiry_past": _l("The expiry date must be in the future."),
    "share_expiry_too_far": _l("A share can last at most three years."),
    # operations
    "login_failed": _l("Wrong username or password, or the account is temporarily locked."),
    "case_not_found": _l("Case not found."),
    "forbidden": _l("You are not allowed to do this."),
    "forbidden_action": _l("You are not allowed to “%(action)s” on this case."),
    "stale_version": _l("Someone else saved this case after you opened it. Reload to see their changes; what you typed is kept below."),
    "nothing_pending": _l("Nothing is waiting for approval."),
    "pending_approval": _l("“%(action)s” is waiting for approval; approve or refuse it first."),
    "reason_required": _l("Give a reason."),
    "field_required": _l("This field is required."),
    "date_in_future": _l("The date cannot be in the future."),
    "date_too_old": _l("The date is too far in the past."),
    "date_before_last_step": _l("The date cannot be before the previous step (%(date)s)."),
    "hearing_too_soon": _l("The hearing must be noticed at least 7 working days ahead: %(date)s or later."),
    "penalty_kinds_required": _l("Choose at least one kind of penalty."),
    "fine_required": _l("Enter the fine amount."),
    "fine_kind_missing": _l("A fine is entered; add “罚款” to the penalty kinds."),
    "paid_less_than_fine": _l("The amount paid is less than the fine (%(fine)s yuan)."),
    "officer_invalid": _l("Choose active officers of this agency."),
    "lead_not_officer": _l("The lead officer must be one of the officers."),
    "received_after_events": _l("The received date cannot be after the case's first step."),
    "duplicate_party": _l("This party is listed twice."),
    "trademark_number": _l("A trademark registration number is 1 to 12 digits."),
    # identifiers
    "credit_code_required": _l("Enter the unified social credit code."),
    "credit_code_length": _l("A unified social credit code has 18 characters."),
    "credit_code_charset": _l("The code contains a character not used in credit codes (I, O, Z, S, V are never used)."),
    "credit_code_region": _l("Characters 3–8 of a credit code are the region code (digits)."),
    "credit_code_checksum": _l("The check character does not match; please check the code."),
    "id_number_required": _l("Enter the resident ID number."),
    "id_number_length": _l("A resident ID number has 18 characters."),
    "id_number_charset": _l("A resident ID number is 17 digits and a final digit or X."),
    "id_number_birthdate": _l("The birth date in the ID number is not a real date."),
    "id_number_checksum": _l("The ID number's check digit does not match; please check it."),
    # generic pydantic error types
    "missing": _l("This field is required."),
    "string_too_short": _l("Too short."),
    "string_too_long": _l("Too long (at most %(max_length)s characters)."),
    "string_type": _l("Enter text."),
    "enum": _l("Choose one of the options."),
    "literal_error": _l("Choose one of the options."),
    "date_from_datetime_parsing": _l("Enter a date as YYYY-MM-DD."),
    "date_parsing": _l("Enter a date as YYYY-MM-DD."),
    "date_type": _l("Enter a date as YYYY-MM-DD."),
    "decimal_parsing": _l("Enter a number."),
    "decimal_type": _l("Enter a number."),
    "decimal_max_places": _l("At most 2 decimal places."),
    "decimal_max_digits": _l("The number is too large."),
    "greater_than_equal": _l("Must be at least %(ge)s."),
    "less_than_equal": _l("Must be at most %(le)s."),
    "int_parsing": _l("Enter a whole number."),
    "int_type": _l("Enter a whole number."),
    "int_from_float": _l("Enter a whole number."),
    "bool_parsing": _l("Enter yes or no."),
    "extra_forbidden": _l("Unknown field."),
    "too_long": _l("Too many entries."),
    "too_short": _l("Add at least one entry."),
    "list_type": _l("Enter a list."),
    "model_type": _l("Enter an object."),
    "json_invalid": _l("The request body is not valid JSON."),
    "control_characters": _l("Contains invisible control characters; please retype it."),
    "idempotency_key_invalid": _l("An Idempotency-Key is 1 to 200 printable ASCII characters without spaces."),
    "idempotency_key_reused": _l("This Idempotency-Key was used for a different request; use a new key for a new request."),
    "idempotency_in_progress": _l("A request with this Idempotency-Key is still being processed; retry shortly."),
    "sha256_invalid": _l("Give the file's SHA-256 as computed on the device (64 hexadecimal characters)."),
    "sha256_mismatch": _l("The file that arrived does not match the SHA-256 computed on the device (it arrived as %(got)s). It was not stored; send it again."),
    "coordinate_invalid": _l("Enter decimal degrees between -%(limit)s and %(limit)s."),
    "evidence_type": _l("Only photos (JPEG, PNG), videos (MP4, MOV) and PDF documents are accepted (checked by content)."),
    "datetime_parsing": _l("Enter a moment as 2026-11-20T09:30:00+08:00."),
    "datetime_offset": _l("Give the moment with its time-zone offset, e.g. +08:00."),
    # assistance and mediation (维权援助, 调解)
    "request_not_found": _l("Request not found."),
    "party_code_invalid": _l("Enter a valid unified social credit code or resident ID number (check digit verified)."),
    "contact_invalid": _l("Enter a phone number or an e-mail address."),
    "date_before_acceptance": _l("The date cannot be before %(day)s."),
    "try_again": _l("Please try again."),
    "mediation_action_not_allowed": _l("“%(action)s” is not possible while the request is “%(state)s”."),
    "jurisdiction_required": _l("Confirm that the request falls within this office's jurisdiction."),
    "mediator_conflict": _l("%(name)s has declared a conflict of interest with a party and cannot mediate this request."),
    "not_mediating": _l("The request is not in mediation."),
    "session_required": _l("Record at least one mediation session before the agreement."),
    "notify_not_open": _l("The parties can be told once, after the request has ended."),
    "service_not_open": _l("Accept the request first."),
    "minutes_invalid": _l("Enter the time spent in minutes (1 to 10000)."),
    "clue_already_made": _l("A clue was already handed over for this request."),
    "lookup_throttled": _l("Too many wrong receipt codes from your address; try again in an hour."),
    # joint actions (专项行动)
    "action_not_found": _l("Joint action or task not found."),
    "action_stale": _l("Someone else changed this after you opened it. Reload to see their changes; what you typed is kept below."),
    "action_not_open": _l("The action is not under way."),
    "action_not_participant": _l("Your agency does not take part in that action."),
    "action_open_tasks": _l("%(n)s task(s) are still open: verify, cancel or wait for them before completing the action."),
    "reason_too_short": _l("Write at least %(n)s characters."),
    "period_too_old": _l("The period ended more than a year ago."),
    "participants_invalid": _l("Choose participating agencies from the list (not your own agency, not a procuratorate)."),
    "participants_required": _l("A joint or cross-region action needs at least one participating agency."),
    "g60_two_cities": _l("A G60 cross-region action needs agencies of at least two G60 cities."),
    "participant_has_tasks": _l("An agency that has tasks or linked cases in the action cannot be removed."),
    "tasks_after_period": _l("Open tasks are due after that date; move their due dates first."),
    "trademark_not_listed": _l("That registration number is not on the key-trademark protection list."),
    "trademark_listed": _l("That trademark is already on the list."),
    "classes_invalid": _l("Enter Nice classes as numbers from 1 to 45, separated by commas."),
    "assignee_required": _l("Choose at least one assignee."),
    "assignee_invalid": _l("Choose assignees among the action's agencies, their units and staff."),
    "too_many": _l("At most %(n)s at a time."),
    "task_due_in_past": _l("The due date is in the past."),
    "task_due_outside_period": _l("The due date must fall within the action's period."),
    "tasks_required": _l("Tick at least one task."),
    "reassign_nothing": _l("Choose a new assignee or a new due date."),
    "task_cannot_move": _l("Task #%(id)s “%(title)s” is %(state)s and cannot be reassigned; nothing was changed."),
    "task_action_not_allowed": _l("“%(action)s” is not possible while the task is %(state)s."),
    "no_pending_report": _l("There is no report waiting for verification."),
    "own_report": _l("A report is verified by someone other than the person who submitted it."),
    "int_non_negative": _l("Enter a whole number, 0 or more."),
    "number_too_large": _l("That number is too large."),
    "amount_invalid": _l("Enter an amount in yuan, e.g. 12500 or 12500.50."),
    "csv_encoding": _l("The file is not UTF-8 or GB18030 text."),
    "csv_headers": _l("The first line must name the columns %(headers)s."),
    "duplicate_in_file": _l("The same registration number appears twice in the file."),
    "report_year": _l("Choose a year from 2000 to this year."),
    "period_too_early": _l("The period cannot start before 2000-01-01."),
    "period_too_long": _l("A period covers at most three years."),
    "ledger_kind": _l("Choose a ledger: cases, referrals, penalties, inspections or actions."),
    "ledger_format": _l("Choose CSV or XLSX."),
    "publication_filter": _l("Unknown publication figure."),
    "due_filter": _l("Unknown deadline filter."),
    "filter_date_range": _l("Enter a date between 2000-01-01 and 2099-12-31."),
    "password_too_short": _l("At least %(n)s characters."),
    "password_classes": _l("Use at least three of: lower-case letters, capitals, digits, other characters."),
    "password_common": _l("This is one of the most common passwords."),
    "password_contains_username": _l("The password must not contain your username."),
    "password_contains_agency": _l("The password must not contain your agency's name or code."),
    "password_reused": _l("This was one of your last %(n)s passwords."),
    "password_repeat": _l("The two new passwords differ."),
    "password_current_wrong": _l("The current password is wrong."),
    "password_expired": _l("Your password is older than %(n)s days: choose a new one."),
    "roles_unknown": _l("Choose roles among: %(roles)s."),
    "roles_separated": _l("The system, security and audit administrator roles cannot be "
                          "combined with each other or with any other role."),
    "own_account": _l("Another security administrator must change your own account."),
    "totp_wrong": _l("The code is wrong or already used: enter the 6-digit code your "
                     "authenticator app shows now."),
    "totp_required": _l("This account needs its one-time code: send it as \"otp\"."),
    "totp_enrol_first": _l("This account must first set up its authenticator app: log in "
                           "once in the web application."),
    "user_unknown": _l("No such user."),
    "agency_unknown": _l("No such agency."),
    "username_taken": _l("This username is already taken."),
    "username_reserved": _l("This is a default account name: choose a personal one."),
    "username_length": _l("1–64 characters."),
    "display_name_length": _l("1–100 characters."),
}


def text(code: str, **params) -> str:
    msg = _MESSAGES.get(code)
    if msg is None:
        return gettext("Invalid value.")
    return str(msg) % params if params else str(msg)


def pydantic_text(code: str, ctx: dict) -> str:
    params = {k: v for k, v in (ctx or {}).items() if isinstance(v, (int, float, str))}
    try:
        return text(code, **params) if code in _MESSAGES else gettext("Invalid value.")
    except (KeyError, ValueError, TypeError):
        return str(_MESSAGES[code])


def rule_text(v) -> str:
    params = dict(v.params)
    if "action" in params:
        params["action"] = action_label(params["action"])
    if "state" in params:
        params["state"] = str(STATE_LABELS.get(params["state"], params["state"]))
    return text(v.code, **params)


def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))
