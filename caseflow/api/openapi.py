"""OpenAPI 3.1 document generated from the pydantic schemas the API validates with."""
from __future__ import annotations

from pydantic.json_schema import models_json_schema

from caseflow.cases.schemas import (CaseListOut, CaseOut, CaseUpdateIn, ClueIn, EvidenceListOut,
                                    EvidenceOut, InspectionOut, InspectionResultIn, MyWorkOut,
                                    ReminderOut, TimelineOut, TokenIn, TokenInfoOut, TokenListOut,
                                    TokenOut, TransitionIn)

_MODELS = [TokenIn, TokenOut, ClueIn, CaseUpdateIn, TransitionIn, CaseOut, CaseListOut, TimelineOut,
           EvidenceOut, EvidenceListOut, MyWorkOut, InspectionOut, InspectionResultIn, ReminderOut,
           TokenInfoOut, TokenListOut]

#: the multipart body of an evidence upload
EVIDENCE_IN = {"type": "object", "required": ["file", "sha256", "captured_at"], "properties": {
    "file": {"type": "string", "format": "binary",
             "description": "JPEG, PNG, MP4, MOV or PDF (checked by content)"},
    "sha256": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$",
               "description": "SHA-256 computed on the device at capture; a mismatch is refused"},
    "captured_at": {"type": "string", "format": "date-time",
                    "description": "capture moment with its offset, e.g. 2026-11-20T09:30:00+08:00"},
    "latitude": {"type": "string", "description": "decimal degrees, -90…90"},
    "longitude": {"type": "string", "description": "decimal degrees, -180…180"},
    "place": {"type": "string", "maxLength": 300},
    "description": {"type": "string", "maxLength": 2000}}}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(name: str) -> dict:
    return {"content": {"application/json": {"schema": _ref(name)}}}


ERROR = {"type": "object", "properties": {
    "message": {"type": "string"},
    "errors": {"type": "object", "additionalProperties": {"type": "string"},
               "description": "A message per field path, e.g. parties.0.credit_code"}},
    "required": ["message"]}


def build_openapi() -> dict:
    _, schemas = models_json_schema([(m, "validation" if m.__name__.endswith("In") else
                                      "serialization") for m in _MODELS],
                                    ref_template="#/components/schemas/{model}")
    components = dict(schemas.get("$defs", {}))
    components["Error"] = ERROR
    err = {"content": {"application/json": {"schema": _ref("Error")}}}
    case_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}
    list_params = [
        {"name": n, "in": "query", "required": False, "schema": s, "description": d}
        for n, s, d in [
            ("state", {"type": "string"}, "case state"),
            ("ip_type", {"type": "string"}, "IP type"),
            ("channel", {"type": "string"}, "intake channel"),
            ("officer", {"type": "integer"}, "user id of an assigned officer"),
            ("overdue", {"type": "boolean"}, "only cases with an overdue clock"),
            ("q", {"type": "string"}, "search number, title, party name or code"),
            ("joint_action", {"type": "integer"}, "cases linked to this joint action"),
            ("own", {"type": "boolean"}, "only the agency's own cases (not shared ones)"),
            ("received_from", {"type": "string", "format": "date"}, "received on or after"),
            ("received_to", {"type": "string", "format": "date"}, "received on or before"),
            ("due", {"type": "string", "enum": ["week"]}, "next deadline between today and Sunday"),
            ("stage", {"type": "string"}, "left this stage (state) between stage_from and stage_to"),
            ("stage_from", {"type": "string", "format": "date"}, "see stage"),
            ("stage_to", {"type": "string", "format": "date"}, "see stage"),
            ("referral", {"type": "string", "enum": ["preparing", "refused", "with_police",
                                                     "police_filed", "not_filed", "returned"]},
             "has a criminal referral with this outcome, made between referred_from and referred_to"),
            ("referred_from", {"type": "string", "format": "date"}, "see referral"),
            ("referred_to", {"type": "string", "format": "date"}, "see referral"),
            ("publication", {"type": "string"},
             "<platform|enterprise>_<on_time|late|overdue|pending>: publication of the penalty "
             "decision dated between decided_from and decided_to"),
            ("decided_from", {"type": "string", "format": "date"}, "see publication"),
            ("decided_to", {"type": "string", "format": "date"}, "see publication"),
            ("limit", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}, "page size"),
            ("cursor", {"type": "string"}, "next_cursor of the previous page"),
        ]
    ]
    idem = {"name": "Idempotency-Key", "in": "header", "required": False,
            "schema": {"type": "string", "minLength": 1, "maxLength": 200,
                       "pattern": "^[\\x21-\\x7e]+$"},
            "description": "A key of the client's choosing (e.g. a UUID). A retry with the same "
                           "key and body returns the stored answer (header Idempotent-Replayed: "
                           "true) and changes nothing; kept at least 7 days. The same key with "
                           "another body is refused (422)."}
    common = {"401": {"description": "Not authenticated", **err},
              "422": {"description": "Invalid input", **err}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "CaseFlow API", "version": "1.0",
                 "description": "IP enforcement cases. Authenticate with POST /auth/token and "
                                "send `Authorization: Bearer <token>`."},
        "servers": [{"url": "/api/v1"}],
        "components": {"schemas": components, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"}}},
        "security": [{"bearer": []}],
        "paths": {
            "/auth/token": {"post": {
                "summary": "Exchange username and password for a bearer token",
                "security": [], "requestBody": {"required": True, **_json("TokenIn")},
                "responses": {"201": {"description": "Token", **_json("TokenOut")},
                              "401": {"description": "Wrong credentials or locked", **err},
                              "422": common["422"]}}},
            "/cases": {
                "get": {"summary": "List visible cases, newest first (keyset pagination)",
                        "parameters": list_params,
                        "responses": {"200": {"description": "A page", **_json("CaseListOut")},
                                      **common}},
                "post": {"summary": "Log a new clue",
                         "parameters": [idem],
                         "requestBody": {"required": True, **_json("ClueIn")},
                         "responses": {"201": {"description": "Created", **_json("CaseOut")},
                                       **common}}},
            "/cases/{id}": {
                "get": {"summary": "One case with clocks, allowed actions and timeline",
                        "parameters": [case_id],
                        "responses": {"200": {"description": "The case", **_json("CaseOut")},
                                      "404": {"description": "No such case visible to you", **err},
                                      **common}},
                "put": {"summary": "Edit a case's details (optimistic lock on version)",
                        "parameters": [case_id],
                        "requestBody": {"required": True, **_json("CaseUpdateIn")},
                        "responses": {"200": {"description": "Saved", **_json("CaseOut")},
                                      "404": {"description": "Not visible", **err},
                                      "409": {"description": "Stale version", **err}, **common}}},
            "/cases/{id}/timeline": {"get": {
                "summary": "The case's timeline: every event, who, when, what changed",
                "parameters": [case_id],
                "responses": {"200": {"description": "Events, oldest first", **_json("TimelineOut")},
                              "404": {"description": "No such case visible to you", **err},
                              **common}}},
            "/cases/{id}/evidence": {
                "get": {"summary": "The case's evidence with hashes and chain of custody",
                        "parameters": [case_id],
                        "responses": {"200": {"description": "Evidence", **_json("EvidenceListOut")},
                                      "404": {"description": "Not visible", **err}, **common}},
                "post": {"summary": "Upload evidence captured on a device (hash checked on arrival)",
                         "parameters": [case_id, idem],
                         "requestBody": {"required": True, "content": {
                             "multipart/form-data": {"schema": EVIDENCE_IN}}},
                         "responses": {"201": {"description": "Stored", **_json("EvidenceOut")},
                                       "403": {"description": "Role or case state not allowed", **err},
                                       "404": {"description": "Not visible", **err},
                                       "413": {"description": "Request too large", **err},
                                       **common}}},
            "/evidence/{id}/content": {"get": {
                "summary": "Download an evidence file (an access entry in its chain of custody)",
                "parameters": [case_id],
                "responses": {"200": {"description": "The file, as an attachment",
                                      "content": {"application/octet-stream": {
                                          "schema": {"type": "string", "format": "binary"}}}},
                              "404": {"description": "Not visible", **err}, **common}}},
            "/me/work": {"get": {
                "summary": "My open joint-action tasks, my dual-random inspections, my inbox",
                "responses": {"200": {"description": "My work", **_json("MyWorkOut")},
                              "403": {"description": "No case role", **err}, **common}}},
            "/me/inbox/{id}/read": {"post": {
                "summary": "Mark one of my reminders read", "parameters": [case_id],
                "responses": {"200": {"description": "The reminder", **_json("ReminderOut")},
                              "404": {"description": "Not yours", **err}, **common}}},
            "/inspections/{id}/result": {"post": {
                "summary": "Enter the result of an inspection I was drawn for",
                "parameters": [case_id, idem],
                "requestBody": {"required": True, **_json("InspectionResultIn")},
                "responses": {"200": {"description": "The inspection", **_json("InspectionOut")},
                              "403": {"description": "Not drawn for it", **err},
                              "404": {"description": "Not visible", **err},
                              "409": {"description": "Already published", **err}, **common}}},
            "/tokens": {"get": {
                "summary": "My API tokens (agency admins: ?scope=agency for the agency's)",
                "parameters": [{"name": "scope", "in": "query", "required": False,
                                "schema": {"type": "string", "enum": ["agency"]}}],
                "responses": {"200": {"description": "Tokens", **_json("TokenListOut")},
                              "403": {"description": "Not an agency admin", **err}, **common}}},
            "/tokens/{id}": {"delete": {
                "summary": "Revoke a token (mine, or as agency admin one of my agency's)",
                "parameters": [case_id],
                "responses": {"200": {"description": "Revoked", **_json("TokenInfoOut")},
                              "404": {"description": "Not yours", **err}, **common}}},
            "/cases/{id}/transitions": {"post": {
                "summary": "Run a workflow action (or approve/deny a pending one)",
                "parameters": [case_id, idem],
                "requestBody": {"required": True, **_json("TransitionIn")},
                "responses": {"200": {"description": "The case after the action", **_json("CaseOut")},
                              "403": {"description": "Role not allowed", **err},
                              "404": {"description": "Not visible", **err},
                              "409": {"description": "Invalid transition or stale version", **err},
                              **common}}},
        },
    }
