use super::*;

fn resolver(m: &MentionRef) -> Option<ResolvedMention> {
    let domain = m.domain.clone().unwrap_or_else(|| "local.example".into());
    (m.username != "nobody").then(|| ResolvedMention {
        href: format!("https://{domain}/@{}", m.username),
        actor_id: format!("https://{domain}/users/{}", m.username),
        name: format!("@{}@{domain}", m.username),
    })
}

fn tag_url(tag: &str) -> String {
    format!("https://local.example/tags/{}", tag.to_lowercase())
}

#[test]
fn paragraphs_breaks_and_escaping() {
    let r = render_plain("Hello <b>world</b> & co\nsecond line\n\nnew paragraph", resolver, tag_url);
    assert_eq!(r.html, "<p>Hello &lt;b&gt;world&lt;/b&gt; &amp; co<br>second line</p><p>new paragraph</p>");
}

#[test]
fn links_mentions_and_hashtags() {
    let r = render_plain(
        "Hi @ada and @eve@Remote.Example, see https://museum.example/x. #GLAM #2024 #museum_tech",
        resolver,
        tag_url,
    );
    assert!(
        r.html
            .contains(r#"<a href="https://local.example/@ada" class="u-url mention">@<span>ada</span></a>"#),
        "{}",
        r.html
    );
    assert!(r.html.contains(r#"href="https://remote.example/@eve""#));
    assert!(r.html.contains(r#"<a href="https://museum.example/x" rel="nofollow noopener noreferrer" target="_blank">https://museum.example/x</a>."#));
    assert!(r.html.contains(r##"<a href="https://local.example/tags/glam" class="mention hashtag" rel="tag">#<span>GLAM</span></a>"##));
    assert!(r.html.contains("#2024"), "numeric tags stay text");
    assert_eq!(r.tags, vec!["GLAM", "museum_tech"]);
    assert_eq!(
        r.mentions.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
        vec!["@ada@local.example", "@eve@remote.example"]
    );
}

#[test]
fn unresolved_mentions_and_emails_stay_text() {
    let r = render_plain("mail ada@museum.example or @nobody", resolver, tag_url);
    assert_eq!(r.html, "<p>mail ada@museum.example or @nobody</p>");
    assert!(r.mentions.is_empty());
}

#[test]
fn find_mentions_deduplicates() {
    let found = find_mentions("@ada @eve@r.example @ada, @eve@R.example:8080.");
    assert_eq!(
        found,
        vec![
            MentionRef { username: "ada".into(), domain: None },
            MentionRef { username: "eve".into(), domain: Some("r.example".into()) },
            MentionRef { username: "eve".into(), domain: Some("r.example:8080".into()) },
        ]
    );
}

#[test]
fn sanitize_keeps_mastodon_markup() {
    let html = r#"<p><span class="h-card"><a href="https://m.example/@ada" class="u-url mention">@<span>ada</span></a></span> hi <img src="x"><a href="https://x.example" class="evil">x</a></p><style>p{}</style>"#;
    assert_eq!(
        sanitize_html(html),
        r#"<p><span class="h-card"><a href="https://m.example/@ada" class="u-url mention" rel="nofollow noopener noreferrer">@<span>ada</span></a></span> hi <a href="https://x.example" class="" rel="nofollow noopener noreferrer">x</a></p>"#
    );
    assert_eq!(strip_html("<p>Hi <b>there</b></p>"), "Hi there");
}

#[test]
fn a_mention_of_an_actor_with_a_script_url_is_not_linked() {
    let evil = |m: &MentionRef| {
        Some(ResolvedMention {
            href: "javascript:alert(document.cookie)".into(),
            actor_id: format!("https://evil.example/users/{}", m.username),
            name: format!("@{}@evil.example", m.username),
        })
    };
    let r = render_plain("hi @mallory@evil.example", evil, tag_url);
    assert!(!r.html.contains("javascript:"), "{}", r.html);
    assert!(r.html.contains("@mallory@evil.example"));
}

#[test]
fn plain_text_is_decoded_once_and_never_holds_markup() {
    assert_eq!(strip_html(r#""><b>Ada</b> & co"#), r#"">Ada & co"#);
    assert_eq!(strip_html("Tom &amp; Jerry &lt;3"), "Tom & Jerry <3");
    assert_eq!(strip_html("<script>alert(1)</script>Name"), "Name");
    assert_eq!(strip_html("&amp;lt;"), "&lt;", "decoded once, not twice");
}
