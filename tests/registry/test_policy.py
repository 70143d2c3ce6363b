"""Who may see and do what: the registry's policy module, alone and through the API."""

from __future__ import annotations

import pytest

from services.kit.auth import Principal, Role
from services.kit.problems import Forbidden, NotFound
from services.registry import policy
from tests.conftest import auth
from tests.registry.conftest import declare, make_uscc, register, standard_body

OWNER = "91120116MA00000019"


def who(role: Role, org: str | None = None) -> Principal:
    return Principal(sub=f"{role}:x", role=role, org=org)


@pytest.mark.parametrize(
    ("principal", "private", "hidden_any", "hidden_own"),
    [
        (None, False, False, False),
        (who(Role.enterprise, OWNER), True, False, True),
        (who(Role.enterprise, "91120116MA00000027"), False, False, False),
        (who(Role.regulator), True, True, True),
        (who(Role.sync), False, True, True),
        (who(Role.service), False, False, False),
        (who(Role.evaluator, "body-1"), False, False, False),
    ],
)
def test_who_sees_what(principal, private, hidden_any, hidden_own):
    assert policy.sees_private(principal, OWNER) is private
    assert policy.sees_hidden(principal) is hidden_any
    assert policy.sees_hidden(principal, OWNER) is hidden_own


def test_enterprise_update_is_for_the_owner_and_regulators_only():
    policy.authorise_enterprise_update(who(Role.enterprise, OWNER), OWNER, False, {"name"})
    policy.authorise_enterprise_update(who(Role.regulator), OWNER, True, {"blocked"})
    with pytest.raises(Forbidden):
        policy.authorise_enterprise_update(who(Role.sync), OWNER, False, set())
    with pytest.raises(NotFound):  # blocked: sync may not even learn it exists
        policy.authorise_enterprise_update(who(Role.sync), OWNER, True, set())
    with pytest.raises(Forbidden):
        policy.authorise_enterprise_update(who(Role.enterprise, OWNER), OWNER, False, {"blocked"})


def test_writes_to_a_hidden_standard_are_404_for_who_cannot_see_it():
    other = who(Role.enterprise, "91120116MA00000027")
    with pytest.raises(NotFound):
        policy.authorise_standard_write(other, OWNER, True)
    with pytest.raises(Forbidden):
        policy.authorise_standard_write(other, OWNER, False)
    policy.authorise_standard_write(who(Role.enterprise, OWNER), OWNER, True)
    policy.authorise_standard_write(who(Role.sync), OWNER, True)


async def _block(client, uscc: str) -> None:
    current = await client.get(f"/v1/enterprises/{uscc}", headers=auth("regulator"))
    response = await client.patch(
        f"/v1/enterprises/{uscc}",
        json={"blocked": True, "blocked_reason": "虚假声明，责令整改"},
        headers={**auth("regulator"), "If-Match": current.headers["ETag"]},
    )
    assert response.status_code == 200, response.text


async def test_sync_cannot_patch_an_enterprise_or_read_its_contact(registry_client):
    uscc = make_uscc()
    await register(registry_client, uscc)
    before = await registry_client.get(f"/v1/enterprises/{uscc}", headers=auth("regulator"))
    response = await registry_client.patch(
        f"/v1/enterprises/{uscc}", json={}, headers={**auth("sync"), "If-Match": "*"}
    )
    assert response.status_code == 403, response.text
    assert "contact" not in response.text
    after = await registry_client.get(f"/v1/enterprises/{uscc}", headers=auth("regulator"))
    assert after.headers["ETag"] == before.headers["ETag"]  # no version bump

    await _block(registry_client, uscc)
    hidden = await registry_client.patch(
        f"/v1/enterprises/{uscc}", json={}, headers={**auth("sync"), "If-Match": "*"}
    )
    assert hidden.status_code == 404, hidden.text
    assert "blocked_reason" not in hidden.text


async def test_another_enterprise_gets_404_writing_to_a_hidden_standard(registry_client):
    owner, other = make_uscc(), make_uscc()
    await register(registry_client, owner)
    await register(registry_client, other)
    created = await declare(registry_client, owner)
    assert created.status_code == 201, created.text
    sid = created.json()["id"]
    headers = {**auth("enterprise", other), "If-Match": "*"}

    visible = await registry_client.post(
        f"/v1/standards/{sid}/withdrawal", json={"reason": "不再生产"}, headers=headers
    )
    assert visible.status_code == 403  # it is public: saying "not yours" reveals nothing

    await _block(registry_client, owner)
    content = {k: v for k, v in standard_body(owner).items() if k != "uscc"}
    content["name"] = "智能电饭锅企业标准（修改）"
    for path, body in (
        (f"/v1/standards/{sid}/withdrawal", {"reason": "不再生产"}),
        (f"/v1/standards/{sid}/versions", {"kind": "correction", "content": content}),
    ):
        response = await registry_client.post(path, json=body, headers=headers)
        assert response.status_code == 404, response.text
        assert response.json()["code"] == "not_found"
    read = await registry_client.get(f"/v1/standards/{sid}", headers=auth("enterprise", other))
    assert read.status_code == 404
