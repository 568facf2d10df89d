"""Drives tollgate with the official InfluxDB v2 Python client (influxdb-client, pinned).

Usage: python influxdb_client_v2.py <base url>
Asserts what the client returns, as InfluxDB 2.x would return it, and prints a JSON summary
(the tokens it created) on the last line for the Rust test to check on the data path.
"""

import json
import sys

from influxdb_client import (
    Authorization,
    InfluxDBClient,
    Permission,
    PermissionResource,
    __version__,
)
from influxdb_client.domain.onboarding_request import OnboardingRequest
from influxdb_client.rest import ApiException
from influxdb_client.service.setup_service import SetupService

assert __version__ == "1.50.0", __version__
url = sys.argv[1]


def expect_error(status, fragment, call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except ApiException as e:
        assert e.status == status, (e.status, e.body)
        assert fragment in e.body, e.body
        return json.loads(e.body)
    raise AssertionError(f"{call.__name__} should have failed with {status}")


# Onboarding: no token needed, once.
with InfluxDBClient(url=url, token="") as anonymous:
    setup = SetupService(anonymous.api_client)
    assert setup.get_setup().allowed is True
    onboarded = setup.post_setup(
        OnboardingRequest(username="admin", password="secret-password", org="my-org", bucket="sensors")
    )
    assert onboarded.user.name == "admin"
    assert onboarded.org.name == "my-org"
    assert onboarded.auth.token.startswith("apiv1_")
    assert onboarded.auth.description == "admin's Token"
    assert setup.get_setup().allowed is False
    expect_error(422, "onboarding has already been completed", setup.post_setup,
                 OnboardingRequest(username="again", org="again", bucket="b"))

admin_token = onboarded.auth.token
with InfluxDBClient(url=url, token=admin_token, org="my-org") as client:
    assert client.ping() is True

    # OrganizationsApi
    orgs = client.organizations_api()
    org = orgs.find_organizations(org="my-org")[0]
    assert org.id == onboarded.org.id and org.name == "my-org"
    assert orgs.find_organization(org.id).name == "my-org"
    second = orgs.create_organization(name="second")
    assert second.name == "second" and len(second.id) == 16
    assert {o.name for o in orgs.find_organizations()} == {"my-org", "second"}
    assert orgs.find_organizations(org_id=second.id)[0].name == "second"
    orgs.delete_organization(second.id)
    expect_error(404, "organization not found", orgs.find_organization, second.id)
    expect_error(404, 'organization name \\"nowhere\\" not found', orgs.find_organizations, org="nowhere")

    # UsersApi
    users = client.users_api()
    me = users.me()
    assert me.name == "admin" and me.id == onboarded.user.id and me.status == "active"
    iot = users.create_user("iot")
    assert iot.name == "iot" and iot.status == "active"
    found = users.find_users(name="iot").users
    assert [u.id for u in found] == [iot.id]
    expect_error(404, "user not found", users.find_users, name="ghost")
    expect_error(422, "user with name iot already exists", users.create_user, "iot")
    temp = users.create_user("temporary")
    temp.name = "renamed"
    assert users.update_user(temp).name == "renamed"
    users.delete_user(temp)
    assert sorted(u.name for u in users.find_users().users) == ["admin", "iot"]

    # AuthorizationsApi
    auths = client.authorizations_api()
    write_sensors = Permission(
        action="write", resource=PermissionResource(type="buckets", name="sensors", org_id=org.id)
    )
    read_auths = Permission(action="read", resource=PermissionResource(type="authorizations", org_id=org.id))
    created = auths.create_authorization(org_id=org.id, permissions=[write_sensors, read_auths])
    assert created.token.startswith("apiv1_")
    assert created.user_id == me.id and created.user == "admin"
    assert created.org_id == org.id and created.org == "my-org"
    assert created.status == "active"
    assert [p.action for p in created.permissions] == ["write", "read"]
    assert created.permissions[0].resource.type == "buckets"
    assert created.permissions[0].resource.name == "sensors"
    assert created.permissions[0].resource.org_id == org.id
    assert created.permissions[0].resource.org == "my-org"
    assert created.links["self"] == "/api/v2/authorizations/" + created.id
    assert created.links["user"] == "/api/v2/users/" + created.user_id

    for_iot = auths.create_authorization(authorization=Authorization(
        org_id=org.id, user_id=iot.id, description="iot writer", permissions=[write_sensors]))
    assert for_iot.user_id == iot.id and for_iot.user == "iot"
    assert for_iot.description == "iot writer"

    fetched = auths.find_authorization_by_id(created.id)
    assert fetched.id == created.id and fetched.token == ""
    assert fetched.created_at is not None and fetched.updated_at is not None
    assert {a.id for a in auths.find_authorizations()} >= {created.id, for_iot.id, onboarded.auth.id}
    assert [a.id for a in auths.find_authorizations_by_user(iot)] == [for_iot.id]
    assert [a.id for a in auths.find_authorizations_by_user_id(iot.id)] == [for_iot.id]
    assert [a.id for a in auths.find_authorizations_by_user_name("iot")] == [for_iot.id]
    assert len(auths.find_authorizations_by_org(org)) == 3
    assert len(auths.find_authorizations_by_org_name("my-org")) == 3
    assert auths.find_authorizations_by_org_id(org.id)[0].org == "my-org"
    assert auths.find_authorizations_by_org_id("ffffffffffffffff") == []

    # update sends the whole object back; only the status changes.
    fetched.status = "inactive"
    updated = auths.update_authorization(fetched)
    assert updated.status == "inactive"
    assert len(updated.permissions) == 2
    assert auths.find_authorization_by_id(created.id).status == "inactive"

    cloned = auths.clone_authorization(for_iot)
    assert cloned.id != for_iot.id and cloned.token not in ("", for_iot.token)
    assert cloned.org_id == for_iot.org_id and cloned.status == "active"
    assert cloned.user_id == me.id, "the clone belongs to the caller"
    assert cloned.permissions[0].resource.name == "sensors"
    cloned_by_id = auths.clone_authorization(created.id)
    assert cloned_by_id.id not in (created.id, cloned.id)

    auths.delete_authorization(cloned_by_id)
    auths.delete_authorization(cloned.id)
    expect_error(404, "authorization not found", auths.find_authorization_by_id, cloned.id)

# The iot user's token cannot administer anything.
with InfluxDBClient(url=url, token=for_iot.token) as limited:
    body = expect_error(401, "is unauthorized", limited.users_api().create_user, "nope")
    assert body["code"] == "unauthorized", body

print(json.dumps({
    "inactive_token": created.token,
    "iot_token": for_iot.token,
    "cloned_token": cloned.token,
    "iot_user_id": iot.id,
}))
