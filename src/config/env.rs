//! `GIAOBAN_<SECTION>_<KEY>` environment overrides, applied to the parsed TOML before it is
//! turned into typed sections.

use super::ConfigError;

/// Applies `GIAOBAN_<SECTION>_<KEY>` to every scalar or array key of every section of `table`.
/// A value is parsed as the type the file gives that key (strings are taken verbatim).
/// Unknown `GIAOBAN_*` variables are an error, so a typo does not pass silently.
pub(super) fn apply_env(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    for (var, raw) in env {
        let Some(rest) = var.strip_prefix("GIAOBAN_") else {
            continue;
        };
        if matches!(
            rest,
            "LOG" | "CONFIG" | "PASSWORD" | "TEST_LOG" | "TEST_SCREENSHOTS"
        ) {
            // Read elsewhere (log filter, config path, `user add`, test logs and screenshots).
            continue;
        }
        let mut target = None;
        for (section, inner) in table.iter_mut() {
            let Some(inner) = inner.as_table_mut() else {
                continue;
            };
            for (key, value) in inner.iter_mut() {
                if format!("{section}_{key}").to_ascii_uppercase() == rest {
                    target = Some((format!("{section}.{key}"), value));
                }
            }
        }
        let Some((key, value)) = target else {
            return Err(ConfigError::Env {
                var: var.clone(),
                key: rest.to_ascii_lowercase(),
                message: "no such config key".into(),
            });
        };
        let env_err = |message: String| ConfigError::Env {
            var: var.clone(),
            key: key.clone(),
            message,
        };
        *value = match value {
            toml::Value::String(_) => toml::Value::String(raw),
            toml::Value::Integer(_) => toml::Value::Integer(
                raw.trim()
                    .parse()
                    .map_err(|e| env_err(format!("{raw:?} is not an integer: {e}")))?,
            ),
            toml::Value::Boolean(_) => toml::Value::Boolean(
                raw.trim()
                    .parse()
                    .map_err(|_| env_err(format!("{raw:?} is not true or false")))?,
            ),
            _ => {
                let parsed: toml::Table = toml::from_str(&format!("v = {raw}"))
                    .map_err(|e| env_err(format!("{raw:?} is not a TOML value: {e}")))?;
                parsed
                    .get("v")
                    .cloned()
                    .ok_or_else(|| env_err("empty".into()))?
            }
        };
    }
    Ok(())
}
