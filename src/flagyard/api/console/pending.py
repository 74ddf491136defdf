"""A change held for approval is not a refusal: the form's page again, saying which change
request was opened (base.html shows the notice and its link), the flag as it was."""

from __future__ import annotations

from starlette.responses import RedirectResponse

from flagyard.errors import PendingApproval


def held(url: str, pending: PendingApproval) -> RedirectResponse:
    """303 back to `url` (a reload does not open a second request), naming the request."""
    separator = "&" if "?" in url else "?"
    return RedirectResponse(f"{url}{separator}pending={pending.change_request_id}", status_code=303)
