use std::path::PathBuf;

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn bad_value(result: Result<Config, ConfigError>) -> (String, String, String) {
    match result {
        Err(ConfigError::BadValue { key, value, expected }) => (key, value, expected),
        other => panic!("expected a bad value error, got {other:?}"),
    }
}

#[test]
fn defaults_serve_localhost_on_sqlite_in_data_dir() {
    let c = Config::load(None, env(&[])).unwrap();
    assert_eq!(c.domain.to_string(), "localhost:8080");
    assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(c.data_dir, PathBuf::from("./data"));
    assert_eq!(c.media_dir, PathBuf::from("./data/media"));
    assert_eq!(c.database_url, DatabaseUrl::Sqlite(PathBuf::from("./data/guildhall.db")));
    assert!(c.insecure, "localhost defaults to insecure mode");
    assert_eq!(c.log_format, LogFormat::Text);
    assert_eq!(c.registrations, RegistrationMode::Closed, "nobody signs up unless the admin says so");
    assert!(!c.registrations_reason_required);
    assert_eq!(c.password_min_length, 8);
    assert_eq!(c.base_url(), "http://localhost:8080");
    assert_eq!(Config::defaults(), c);
}

#[test]
fn real_domain_defaults_to_secure() {
    let c = Config::load(None, env(&[("GUILDHALL_DOMAIN", "museums.example")])).unwrap();
    assert!(!c.insecure);
    assert_eq!(c.base_url(), "https://museums.example");
}

#[test]
fn file_overrides_defaults_and_env_overrides_file() {
    let file = r#"
        domain = "guild.example"
        listen = "0.0.0.0:9000"
        data_dir = "/var/lib/guildhall"
        insecure = true
    "#;
    let c = Config::load(
        Some(("g.toml", file)),
        env(&[("GUILDHALL_LISTEN", "127.0.0.1:7000"), ("PATH", "/bin")]),
    )
    .unwrap();
    assert_eq!(c.domain.to_string(), "guild.example");
    assert_eq!(c.listen.to_string(), "127.0.0.1:7000");
    assert!(c.insecure);
    assert_eq!(c.media_dir, PathBuf::from("/var/lib/guildhall/media"));
    assert_eq!(c.database_url, DatabaseUrl::Sqlite("/var/lib/guildhall/guildhall.db".into()));
}

#[test]
fn explicit_media_dir_and_postgres_url() {
    let c = Config::load(
        None,
        env(&[
            ("GUILDHALL_MEDIA_DIR", "/srv/media"),
            ("GUILDHALL_DATABASE_URL", "postgres://guild:s3cret@db/guildhall"),
            ("GUILDHALL_LOG_FORMAT", "JSON"),
        ]),
    )
    .unwrap();
    assert_eq!(c.media_dir, PathBuf::from("/srv/media"));
    assert!(c.database_url.is_postgres());
    assert_eq!(c.log_format, LogFormat::Json);
    assert!(!format!("{c:?}").contains("s3cret"), "the password must never be printed");
}

#[test]
fn registration_settings_from_file_and_environment() {
    let file =
        "registrations = \"approval\"\nregistrations_reason_required = true\npassword_min_length = 12\n";
    let c = Config::load(Some(("g.toml", file)), env(&[])).unwrap();
    assert_eq!(c.registrations, RegistrationMode::Approval);
    assert!(c.registrations_reason_required);
    assert_eq!(c.password_min_length, 12);
    let c = Config::load(Some(("g.toml", file)), env(&[("GUILDHALL_REGISTRATIONS", "Open")])).unwrap();
    assert_eq!((c.registrations, c.registrations.as_str()), (RegistrationMode::Open, "open"));
    let (key, value, _) = bad_value(Config::load(Some(("g.toml", "registrations = \"yes\"")), env(&[])));
    assert_eq!((key.as_str(), value.as_str()), ("registrations in g.toml", "yes"));
}

#[test]
fn unknown_file_key_is_named() {
    let err = Config::load(Some(("g.toml", "domian = \"x.org\"")), env(&[])).unwrap_err();
    assert_eq!(err, ConfigError::UnknownKey { path: "g.toml".into(), key: "domian".into() });
    assert!(err.to_string().contains("unknown key 'domian'"));
}

#[test]
fn syntax_error_names_the_file() {
    let err = Config::load(Some(("g.toml", "domain = ")), env(&[])).unwrap_err();
    assert!(matches!(err, ConfigError::Syntax { ref path, .. } if path == "g.toml"), "{err}");
}

#[test]
fn each_bad_value_names_key_value_and_expectation() {
    let cases = [
        ("GUILDHALL_DOMAIN", "127.0.0.1:8080", "not an IP address"),
        ("GUILDHALL_DOMAIN", "bad host", "host name"),
        ("GUILDHALL_LISTEN", "localhost:80", "IP address and port"),
        ("GUILDHALL_DATABASE_URL", "mysql://x/y", "sqlite://PATH"),
        ("GUILDHALL_DATABASE_URL", "sqlite://", "sqlite://PATH"),
        ("GUILDHALL_DATA_DIR", "", "directory"),
        ("GUILDHALL_MEDIA_DIR", "", "directory"),
        ("GUILDHALL_INSECURE", "maybe", "true or false"),
        ("GUILDHALL_LOG_FORMAT", "xml", "text or json"),
        ("GUILDHALL_REGISTRATIONS", "invite", "closed, approval or open"),
        ("GUILDHALL_REGISTRATIONS_REASON_REQUIRED", "perhaps", "true or false"),
        ("GUILDHALL_PASSWORD_MIN_LENGTH", "7", "from 8 to 256"),
        ("GUILDHALL_PASSWORD_MIN_LENGTH", "257", "from 8 to 256"),
        ("GUILDHALL_PASSWORD_MIN_LENGTH", "twelve", "from 8 to 256"),
    ];
    for (key, value, hint) in cases {
        let (k, v, expected) = bad_value(Config::load(None, env(&[(key, value)])));
        assert_eq!((k.as_str(), v.as_str()), (key, value));
        assert!(expected.contains(hint), "{key}: {expected}");
    }
}

#[test]
fn bad_file_value_names_the_file_key() {
    let (key, value, _) = bad_value(Config::load(Some(("g.toml", "insecure = 3")), env(&[])));
    assert_eq!((key.as_str(), value.as_str()), ("insecure in g.toml", "3"));
}

#[test]
fn bad_database_url_is_reported_without_password() {
    let (_, value, _) =
        bad_value(Config::load(None, env(&[("GUILDHALL_DATABASE_URL", "mysql://u:pw@h/db")])));
    assert_eq!(value, "mysql://u:***@h/db");
}

#[test]
fn unknown_env_lists_only_typos() {
    let vars = env(&[
        ("GUILDHALL_DOMAIN", "x.org"),
        ("GUILDHALL_CONFIG", "g.toml"),
        ("GUILDHALL_LISTN", "1"),
        ("HOME", "/root"),
    ]);
    assert_eq!(Config::unknown_env(vars), vec!["GUILDHALL_LISTN".to_string()]);
}

#[test]
fn redaction_keeps_everything_but_the_password() {
    assert_eq!(redact_url("postgres://u:p@h:5432/db"), "postgres://u:***@h:5432/db");
    assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    assert_eq!(redact_url("postgres://h/db?password=p"), "postgres://h/db?password=***");
}

#[test]
fn trusted_proxies_default_to_loopback_and_parse_from_file_and_env() {
    let c = Config::load(None, env(&[])).unwrap();
    assert_eq!(c.trusted_proxies, crate::net::Cidr::loopback());
    let file = "trusted_proxies = [\"10.0.0.0/8\", \"::1\"]\n";
    let c = Config::load(Some(("g.toml", file)), env(&[])).unwrap();
    assert_eq!(c.trusted_proxies.len(), 2);
    let c = Config::load(None, env(&[("GUILDHALL_TRUSTED_PROXIES", "")])).unwrap();
    assert!(c.trusted_proxies.is_empty(), "an empty list trusts no proxy");
    let (key, value, _) =
        bad_value(Config::load(None, env(&[("GUILDHALL_TRUSTED_PROXIES", "10.0.0.0/8,proxy")])));
    assert_eq!((key.as_str(), value.as_str()), ("GUILDHALL_TRUSTED_PROXIES", "10.0.0.0/8,proxy"));
}
