//! Loading the shipped default config, environment overrides and errors that name the key.

use super::*;

fn default_text() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/default.toml")).unwrap()
}

fn load(env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::from_toml_str(
        &default_text(),
        Path::new("default.toml"),
        env.iter().map(|(a, b)| (a.to_string(), b.to_string())),
    )
}

#[test]
fn default_config_is_valid_and_has_a_host_site() {
    let c = load(&[]).unwrap();
    assert_eq!(c.http.addr, "127.0.0.1:8080");
    assert!(c.org.units.iter().flat_map(|u| &u.sites).any(|s| s.host));
    assert_eq!(c.public_url(), "http://127.0.0.1:8080");
}

#[test]
fn env_overrides_each_type() {
    let c = load(&[
        ("GIAOBAN_HTTP_ADDR", "127.0.0.1:0"),
        ("GIAOBAN_DATA_DIR", "/tmp/x"),
        ("GIAOBAN_MEDIA_UDP_PORT", "40000"),
        ("GIAOBAN_MEDIA_NAT_1TO1_IPS", "[\"203.0.113.7\"]"),
    ])
    .unwrap();
    assert_eq!(c.http.addr, "127.0.0.1:0");
    assert_eq!(c.data.dir, PathBuf::from("/tmp/x"));
    assert_eq!(c.media.udp_port, 40000);
    assert_eq!(c.media.nat_1to1_ips, vec!["203.0.113.7".to_string()]);
}

#[test]
fn bad_values_name_the_key() {
    let e = load(&[("GIAOBAN_HTTP_ADDR", "nowhere")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("http.addr"), "{e}");
    let e = load(&[("GIAOBAN_MEDIA_UDP_PORT", "lots")])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("GIAOBAN_MEDIA_UDP_PORT") && e.contains("media.udp_port"),
        "{e}"
    );
    // The port range of earlier versions is gone: naming it is an error, not ignored.
    let e = load(&[("GIAOBAN_MEDIA_PORT_MIN", "60000")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("GIAOBAN_MEDIA_PORT_MIN"), "{e}");
    let e = load(&[("GIAOBAN_HTTP_ADRESS", "x")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("GIAOBAN_HTTP_ADRESS"), "{e}");
    let e = load(&[("GIAOBAN_MEDIA_BIND_IP", "localhost")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("media.bind_ip"), "{e}");
}

#[test]
fn unknown_keys_and_bad_org_are_refused() {
    let text = default_text().replace("[limits]", "[limits]\nmax_sesion_hours = 3");
    let e = Config::from_toml_str(&text, Path::new("f.toml"), [])
        .unwrap_err()
        .to_string();
    assert!(e.contains("max_sesion_hours"), "{e}");
    let text = default_text().replace("parent = \"ubnd-tp\"", "parent = \"nope\"");
    let e = Config::from_toml_str(&text, Path::new("f.toml"), [])
        .unwrap_err()
        .to_string();
    assert!(e.contains("parent") && e.contains("nope"), "{e}");
}
