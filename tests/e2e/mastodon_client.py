"""Drives two Guildhall instances with Mastodon.py, the way an app would.

Usage: mastodon_client.py BASE_A BASE_B
Prints FLUSH and waits for a line on stdin whenever federation must catch up; prints DONE.
Any failed check raises, so the exit code tells the Rust test what happened.
"""
import base64
import datetime
import hashlib
import re
import secrets
import sys
import urllib.parse

import requests
from mastodon import Mastodon

A, B = sys.argv[1], sys.argv[2]
HOST_A = urllib.parse.urlparse(A).netloc
CALLBACK = "http://localhost/callback"


def flush():
    print("FLUSH", flush=True)
    assert sys.stdin.readline().strip() == "OK"


def password_login(base, user):
    client_id, secret = Mastodon.create_app("guildhall-e2e", api_base_url=base, redirect_uris="urn:ietf:wg:oauth:2.0:oob")
    m = Mastodon(client_id=client_id, client_secret=secret, api_base_url=base)
    m.log_in(user, "correct horse", allow_http=True)
    return m


def pkce_login(base, user):
    client_id, secret = Mastodon.create_app(
        "guildhall-e2e-pkce", api_base_url=base, redirect_uris=CALLBACK, scopes=["read", "write", "follow"])
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = {"response_type": "code", "client_id": client_id, "redirect_uri": CALLBACK, "scope": "read write follow",
             "state": "xyz", "code_challenge": challenge, "code_challenge_method": "S256"}
    browser = requests.Session()
    page = browser.get(f"{base}/oauth/authorize", params=query)
    assert page.status_code == 200, page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    form = dict(query, csrf_token=csrf, login=user, password="correct horse")
    answer = browser.post(f"{base}/oauth/authorize", data=form, allow_redirects=False)
    assert answer.status_code == 302, answer.text
    location = urllib.parse.urlparse(answer.headers["Location"])
    params = urllib.parse.parse_qs(location.query)
    assert params["state"] == ["xyz"]
    code = params["code"][0]
    exchange = {"grant_type": "authorization_code", "client_id": client_id, "client_secret": secret,
                "redirect_uri": CALLBACK, "code": code}
    wrong = requests.post(f"{base}/oauth/token", data=dict(exchange, code_verifier="not-the-verifier"))
    assert wrong.status_code == 400, wrong.text
    # The failed attempt used the code up: PKCE failures do not leave a code lying around.
    answer = browser.post(f"{base}/oauth/authorize", data=dict(form, csrf_token=csrf), allow_redirects=False)
    code = urllib.parse.parse_qs(urllib.parse.urlparse(answer.headers["Location"]).query)["code"][0]
    token = requests.post(f"{base}/oauth/token", data=dict(exchange, code=code, code_verifier=verifier))
    assert token.status_code == 200, token.text
    return Mastodon(access_token=token.json()["access_token"], api_base_url=base)


ada = password_login(A, "ada")
assert ada.account_verify_credentials()["username"] == "ada"
bob = pkce_login(B, "bob")
assert bob.account_verify_credentials()["acct"] == "bob"

ada.status_post("Hello from ada")
found = bob.search_v2(f"ada@{HOST_A}", resolve=True)["accounts"]
assert len(found) == 1 and found[0]["acct"] == f"ada@{HOST_A}", found
ada_at_b = found[0]
bob.account_follow(ada_at_b["id"])
flush()
assert bob.account_relationships(ada_at_b["id"])[0]["following"] is True

second = ada.status_post("Second post, for followers", visibility="private")
flush()
home = bob.timeline_home()
mine = [s for s in home if "Second post" in s["content"]]
assert len(mine) == 1 and mine[0]["visibility"] == "private", home

reply = bob.status_reply(mine[0], "Nice one")
bob.status_favourite(mine[0])
flush()
context = ada.status_context(second["id"])
assert [s["account"]["acct"] for s in context["descendants"]] == [f"bob@{urllib.parse.urlparse(B).netloc}"], context
kinds = sorted(n["type"] for n in ada.notifications())
assert kinds == ["favourite", "follow", "mention"], kinds
print("checked: sign-in (password, PKCE), resolve, follow, home, reply, favourite, notifications", file=sys.stderr)

bob.status_delete(reply["id"])
flush()
assert ada.status_context(second["id"])["descendants"] == []

# Groups: following a group joins it; mentioning it posts into it; the group relays the posts
# of its members to every member's instance (bob does not follow cy: only the relay brings it).
cy = password_login(A, "cy")
circle = bob.search_v2(f"circle@{HOST_A}", resolve=True)["accounts"]
assert len(circle) == 1 and circle[0]["group"] is True, circle
circle = circle[0]
bob.account_follow(circle["id"])
local_circle = cy.account_lookup("circle")
cy.account_follow(local_circle["id"])
flush()
assert bob.account_relationships(circle["id"])[0]["following"] is True
cy.status_post("Welcome to the circle @circle")
flush()
relayed = [s for s in bob.timeline_home() if "Welcome to the circle" in s["content"]]
assert len(relayed) == 1, bob.timeline_home()
assert any("Welcome to the circle" in s["content"] for s in bob.account_statuses(circle["id"]))
bob.status_post(f"Glad to be here @circle@{HOST_A}")
flush()
assert any("Glad to be here" in s["content"] for s in cy.timeline_home()), cy.timeline_home()
print("checked: group join by follow, posting by mention, relayed posts in home", file=sys.stderr)
# Polls: ada on A asks, bob on B votes; A counts the vote and tells B the new counts.
asked = ada.status_post("Lunch at the study day?", poll=ada.make_poll(["soup", "salad"], expires_in=600))
flush()
polled = [s for s in bob.timeline_home() if "Lunch at the study day" in s["content"]]
assert len(polled) == 1 and polled[0]["poll"]["options"][1]["title"] == "salad", bob.timeline_home()
voted = bob.poll_vote(polled[0]["poll"]["id"], [1])
assert voted["voted"] is True and list(voted["own_votes"]) == [1], voted
flush()
assert [o["votes_count"] for o in ada.poll(asked["poll"]["id"])["options"]] == [0, 1]
flush()
assert bob.poll(polled[0]["poll"]["id"])["voters_count"] == 1

# Scheduled statuses wait, can be moved and cancelled.
when = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=30)
scheduled = ada.status_post("Q1 of the hour", scheduled_at=when)
assert scheduled["params"]["text"] == "Q1 of the hour", scheduled
assert [s["id"] for s in ada.scheduled_statuses()] == [scheduled["id"]]
moved = ada.scheduled_status_update(scheduled["id"], when + datetime.timedelta(hours=1))
assert moved["scheduled_at"] > scheduled["scheduled_at"], moved
ada.scheduled_status_delete(scheduled["id"])
assert list(ada.scheduled_statuses()) == []

# Grouped notifications: bob's like and vote show; the policy reads and writes.
grouped = ada.grouped_notifications()
types = [g["type"] for g in grouped["notification_groups"]]
assert "favourite" in types and "follow" in types, grouped
sampled = {str(i) for g in grouped["notification_groups"] for i in g["sample_account_ids"]}
listed = {str(a["id"]) for a in grouped["accounts"]}
assert sampled <= listed, grouped
policy = ada.update_notifications_policy(for_not_following="filter")
assert policy["for_not_following"] == "filter", policy
assert ada.notifications_policy()["for_not_following"] == "filter"

# Notes, muted conversations and domain blocks.
bob_at_a = ada.search_v2(f"bob@{urllib.parse.urlparse(B).netloc}", resolve=True)["accounts"][0]
assert ada.account_note_set(bob_at_a["id"], "Met at the study day")["note"] == "Met at the study day"
muted = ada.status_mute(second["id"])
assert muted["muted"] is True, muted
ada.domain_block(urllib.parse.urlparse(B).netloc)
assert list(ada.domain_blocks()) == [urllib.parse.urlparse(B).netloc]
assert ada.account_relationships(bob_at_a["id"])[0]["domain_blocking"] is True
print("checked: polls across instances, scheduled statuses, grouped notifications, policy, notes, mutes, domain blocks", file=sys.stderr)
print("DONE", flush=True)
