//! WebFinger, host-meta, NodeInfo, and actor and object documents with content negotiation.

use guildhall_core::model::Visibility;
use guildhall_federation::actions::{self, NewPost};
use serde_json::Value;

use crate::support::{Cluster, TestInstance, http};

const AP: &str = "application/activity+json";

async fn get_json(url: &str, accept: &str) -> (u16, Value) {
    let res = http().get(url).header("accept", accept).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn webfinger_finds_people_and_groups_and_refuses_the_rest() {
    let t = TestInstance::start(&crate::support::Backend::Sqlite).await;
    let ada = t.user("Ada").await;
    let domain = t.instance.config().domain.to_string();
    let res = http()
        .get(t.url(&format!("/.well-known/webfinger?resource=acct:ada@{domain}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("application/jrd+json"));
    let jrd: Value = res.json().await.unwrap();
    assert_eq!(jrd["subject"], format!("acct:Ada@{domain}"));
    let self_link = jrd["links"].as_array().unwrap().iter().find(|l| l["rel"] == "self").unwrap();
    assert_eq!(
        (self_link["type"].as_str(), self_link["href"].as_str()),
        (Some(AP), Some(ada.ap_id.as_str()))
    );
    let by_url =
        http().get(t.url(&format!("/.well-known/webfinger?resource={}", ada.ap_id))).send().await.unwrap();
    assert_eq!(by_url.status(), 200);
    for (query, status) in [
        (format!("acct:nobody@{domain}"), 404),
        ("acct:ada@elsewhere.example".to_string(), 404),
        ("garbage".to_string(), 400),
        (String::new(), 400),
    ] {
        let res =
            http().get(t.url(&format!("/.well-known/webfinger?resource={query}"))).send().await.unwrap();
        assert_eq!(res.status(), status, "{query}");
    }
    let missing = http().get(t.url("/.well-known/webfinger")).send().await.unwrap();
    assert_eq!(missing.status(), 400);

    let meta = http().get(t.url("/.well-known/host-meta")).send().await.unwrap().text().await.unwrap();
    assert!(meta.contains(&format!("{}/.well-known/webfinger?resource={{uri}}", t.url(""))), "{meta}");
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn nodeinfo_reports_real_usage() {
    let t = TestInstance::start(&crate::support::Backend::Sqlite).await;
    let ada = t.user("ada").await;
    t.user("bob").await;
    actions::post(&t.fed(), &ada, NewPost::public("one")).await.unwrap();
    let (_, links) = get_json(&t.url("/.well-known/nodeinfo"), "application/json").await;
    let href = links["links"][1]["href"].as_str().unwrap().to_owned();
    assert!(href.ends_with("/nodeinfo/2.1"));
    for version in ["2.0", "2.1"] {
        let (status, info) = get_json(&t.url(&format!("/nodeinfo/{version}")), "application/json").await;
        assert_eq!(status, 200);
        assert_eq!(info["version"], version);
        assert_eq!(info["software"]["name"], "guildhall");
        assert_eq!(info["usage"]["users"]["total"], 2);
        assert_eq!(info["usage"]["users"]["activeMonth"], 1, "only ada posted");
        assert_eq!(info["usage"]["localPosts"], 1);
        assert_eq!(info["openRegistrations"], false);
    }
    assert_eq!(get_json(&t.url("/nodeinfo/3.0"), "application/json").await.0, 404);
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn actors_negotiate_json_or_the_profile_page() {
    let t = TestInstance::start(&crate::support::Backend::Sqlite).await;
    let ada = t.user("ada").await;
    for accept in [AP, r#"application/ld+json; profile="https://www.w3.org/ns/activitystreams""#] {
        let res = http().get(&ada.ap_id).header("accept", accept).send().await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["content-type"], AP);
        let doc: Value = res.json().await.unwrap();
        assert_eq!((doc["type"].as_str(), doc["preferredUsername"].as_str()), (Some("Person"), Some("ada")));
        assert_eq!(doc["endpoints"]["sharedInbox"], t.url("/inbox"));
        assert!(doc["publicKey"]["publicKeyPem"].as_str().unwrap().contains("BEGIN PUBLIC KEY"));
    }
    let browser =
        reqwest::Client::builder().no_proxy().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = browser.get(&ada.ap_id).header("accept", "text/html").send().await.unwrap();
    assert_eq!(res.status(), 302);
    assert_eq!(res.headers()["location"], t.url("/@ada"));
    let page = http().get(t.url("/@ada")).send().await.unwrap();
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert_eq!(get_json(&t.url("/users/nobody"), AP).await.0, 404);
    let (status, app) = get_json(&t.url("/actor"), AP).await;
    assert_eq!((status, app["type"].as_str()), (200, Some("Application")));
    let (_, followers) = get_json(&t.url("/users/ada/followers"), AP).await;
    assert_eq!(
        (followers["type"].as_str(), followers["totalItems"].as_u64()),
        (Some("OrderedCollection"), Some(0))
    );
    t.instance.stop().await.unwrap();
}

#[tokio::test]
async fn objects_are_served_by_visibility_and_deleted_ones_are_gone() {
    let cluster = Cluster::start(2).await;
    let [a, b] = &cluster.nodes[..] else { unreachable!() };
    let ada = a.user("ada").await;
    let bob = b.user("bob").await;
    let public = actions::post(&a.fed(), &ada, NewPost::public("open")).await.unwrap();
    let (status, note) = get_json(&public.ap_id, AP).await;
    assert_eq!(
        (status, note["type"].as_str(), note["content"].as_str()),
        (200, Some("Note"), Some("<p>open</p>"))
    );
    let (_, outbox) = get_json(&format!("{}/outbox?page=true", ada.ap_id), AP).await;
    assert_eq!(outbox["orderedItems"][0]["object"]["id"], public.ap_id.as_str());

    let private = NewPost { visibility: Visibility::Private, ..NewPost::public("followers only") };
    let private = actions::post(&a.fed(), &ada, private).await.unwrap();
    assert_eq!(get_json(&private.ap_id, AP).await.0, 401, "an unsigned fetch is refused");
    // A signed fetch by someone who does not follow ada: not found.
    let err = actions::resolve_status(&b.fed(), &private.ap_id).await.unwrap_err();
    assert!(err.to_string().contains("404") || err.to_string().to_lowercase().contains("not found"), "{err}");
    // Once bob follows ada, B's signed fetch (by its instance actor) may see it.
    let ada_at_b = actions::resolve_actor(&b.fed(), &a.handle("ada")).await.unwrap();
    actions::follow(&b.fed(), &bob, &ada_at_b).await.unwrap();
    cluster.flush().await;
    let fetched = actions::resolve_status(&b.fed(), &private.ap_id).await.unwrap();
    assert_eq!(fetched.visibility, "private");

    actions::delete_status(&a.fed(), &ada, public.id).await.unwrap();
    let (status, tomb) = get_json(&public.ap_id, AP).await;
    assert_eq!((status, tomb["type"].as_str()), (410, Some("Tombstone")));
    cluster.stop().await;
}
