"""Login limits and logout through the REST edge of a real hub process."""

from tests.support import ADMIN_PASSWORD

LOGIN_FAILURES_PER_MINUTE = 5  # the default of the key


async def test_failed_logins_get_429(hub_process):
    async with hub_process.rest() as rest:
        for _ in range(LOGIN_FAILURES_PER_MINUTE):
            response = await rest.post(
                "/auth/login", json={"username": "admin", "password": "wrong-one"}
            )
            assert response.status_code == 401, response.text
        limited = await rest.post(
            "/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        )
        assert limited.status_code == 429, limited.text
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        body = limited.json()
        assert body["success"] is False
        assert "too many failed logins" in body["error"]["message"]


async def test_logout_ends_rest_access(hub_process):
    async with hub_process.rest() as rest:
        login = await rest.post(
            "/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}
        )
        assert login.status_code == 200, login.text
        tokens = login.json()["data"]
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        before = await rest.get("/platform/v1/ris", headers=headers)
        assert before.status_code == 200, before.text

        logout = await rest.post(
            "/auth/logout", json={"refresh_token": tokens["refresh_token"]}
        )
        assert logout.status_code == 200, logout.text
        assert logout.json()["data"]["revoked"] is True

        after = await rest.get("/platform/v1/ris", headers=headers)
        assert after.status_code == 401, after.text
        assert "session ended" in after.json()["error"]["message"]
