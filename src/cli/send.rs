//! `groupscope send` and `groupscope outbox`: the composer's code path, headless.

use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use clap::{Args, Subcommand};
use serde_json::json;

use super::import::store_path;
use super::{Common, EXIT_USAGE, json_safe, safe};
use crate::compose::{Draft, build_traits, parse_trait_assignment};
use crate::config::Config;
use crate::event::EventTime;
use crate::send::dispatch::{Dispatch, dispatch, new_event, retry_entry};
use crate::send::{DataPlane, HttpConfig, RetryPolicy, UreqTransport, WriteKey};
use crate::store::{self, Store};

/// Exit code: the data plane rejected the call (it is kept in the outbox).
pub const EXIT_REJECTED: u8 = 3;
/// Exit code: the call could not be delivered and waits in the outbox.
pub const EXIT_QUEUED: u8 = 4;

/// Where to send: flags, else environment, else a profile of the config file.
#[derive(Debug, Args, Clone)]
pub struct PlaneArgs {
    /// The data plane URL, e.g. https://NAME.dataplane.rudderstack.com.
    #[arg(long, env = "RUDDERSTACK_DATA_PLANE_URL", value_name = "URL")]
    pub data_plane_url: Option<String>,
    /// The source's write key (never printed; prefer the environment variable).
    #[arg(
        long,
        env = "RUDDERSTACK_WRITE_KEY",
        hide_env_values = true,
        value_name = "KEY"
    )]
    pub write_key: Option<String>,
    /// A `[profiles.NAME]` of the config file.
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// Attempts before a call is left in the outbox (with exponential backoff between them).
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub attempts: u32,
}

impl PlaneArgs {
    /// The retry policy these arguments ask for.
    pub fn policy(&self) -> RetryPolicy {
        RetryPolicy {
            max_attempts: self.attempts.max(1),
            ..RetryPolicy::default()
        }
    }
}

/// Arguments of `send`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes: 0 accepted (or printed with --dry-run, or kept with --local), \
2 invalid call or configuration, 3 rejected by the data plane, 4 not delivered (waits in the outbox)."
)]
pub struct SendArgs {
    /// The group's id.
    #[arg(long, value_name = "ID")]
    pub group_id: String,
    /// The user's id (this or --anonymous-id is required).
    #[arg(long, value_name = "ID", required_unless_present = "anonymous_id")]
    pub user_id: Option<String>,
    /// The anonymous id.
    #[arg(long, value_name = "ID")]
    pub anonymous_id: Option<String>,
    /// A trait: KEY=VALUE; VALUE is JSON when it parses as JSON (12, true, {"a":1}), else a
    /// string; dotted keys nest (address.city=Berlin). Repeatable.
    #[arg(long = "trait", value_name = "KEY=VALUE")]
    pub traits: Vec<String>,
    /// All traits as one JSON object (the --trait values apply over it).
    #[arg(long, value_name = "JSON")]
    pub traits_json: Option<String>,
    /// An explicit event time (ISO-8601), to backfill a historical call.
    #[arg(long, value_name = "TIME")]
    pub timestamp: Option<String>,
    /// Extra `context` as a JSON object.
    #[arg(long, value_name = "JSON")]
    pub context_json: Option<String>,
    /// Print the exact JSON that would be sent, and send nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Keep the call in the store as a local call, never sent.
    #[arg(long, conflicts_with = "dry_run")]
    pub local: bool,
    /// Where to send.
    #[command(flatten)]
    pub plane: PlaneArgs,
}

/// Arguments of `outbox`.
#[derive(Debug, Args)]
pub struct OutboxArgs {
    /// What to do with the outbox.
    #[command(subcommand)]
    pub action: OutboxAction,
}

/// Outbox actions.
#[derive(Debug, Subcommand)]
pub enum OutboxAction {
    /// List the calls waiting in the outbox.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Send waiting calls again (all, or the given ids).
    Retry {
        /// Outbox ids (from `outbox list`); none means all.
        ids: Vec<i64>,
        /// Where to send.
        #[command(flatten)]
        plane: PlaneArgs,
    },
    /// Remove calls from the outbox for good.
    Drop {
        /// Outbox ids (from `outbox list`).
        #[arg(required_unless_present = "all")]
        ids: Vec<i64>,
        /// Drop every waiting call.
        #[arg(long)]
        all: bool,
    },
}

/// Resolves the data plane from flags, environment and config; `Ok(None)` when none is set.
/// Config warnings and a warning about plain http go to stderr.
pub fn resolve_data_plane(plane: &PlaneArgs) -> anyhow::Result<Option<DataPlane>> {
    let (config, warnings) = Config::load();
    for w in &warnings {
        eprintln!("groupscope: config: {w}");
    }
    let resolved = data_plane_from(plane, &config)?;
    if let Some(p) = resolved.as_ref().filter(|p| p.is_insecure()) {
        eprintln!(
            "groupscope: warning: {} is plain http to a non-loopback host; the write key travels unencrypted",
            p.url()
        );
    }
    Ok(resolved)
}

/// The data plane from flags (and the environment, through clap), else `config`'s profile;
/// `Ok(None)` when none is set. Prints nothing, so the explorer can show problems itself.
pub fn data_plane_from(plane: &PlaneArgs, config: &Config) -> anyhow::Result<Option<DataPlane>> {
    let profile = config.profile(plane.profile.as_deref());
    if let (Some(name), None) = (&plane.profile, &profile) {
        anyhow::bail!("no profile {name:?} in the config file");
    }
    let url = plane
        .data_plane_url
        .clone()
        .or_else(|| profile.map(|(_, p)| p.data_plane_url.clone()));
    let key = plane.write_key.clone().or_else(|| {
        profile.and_then(|(_, p)| p.write_key.as_ref().map(|k| k.expose().to_string()))
    });
    match (url, key) {
        (None, None) => Ok(None),
        (Some(_), None) => anyhow::bail!(
            "a data plane URL is set but no write key: set RUDDERSTACK_WRITE_KEY, --write-key or a profile's write_key"
        ),
        (None, Some(_)) => anyhow::bail!(
            "a write key is set but no data plane URL: set RUDDERSTACK_DATA_PLANE_URL, --data-plane-url or a profile"
        ),
        (Some(url), Some(key)) => {
            let key = WriteKey::new(&key)?;
            Ok(Some(DataPlane::new(&url, key)?))
        }
    }
}

/// Runs `send`.
pub fn run_send(args: &SendArgs, common: &Common) -> anyhow::Result<ExitCode> {
    let mut draft = Draft::new();
    draft.group_id = args.group_id.clone();
    draft.user_id = args.user_id.clone().unwrap_or_default();
    draft.anonymous_id = args.anonymous_id.clone().unwrap_or_default();
    draft.timestamp = args.timestamp.clone().unwrap_or_default();
    draft.context = args.context_json.clone().unwrap_or_default();
    let assignments = args
        .traits
        .iter()
        .map(|t| parse_trait_assignment(t))
        .collect::<Result<Vec<_>, _>>()?;
    draft.apply_traits(&build_traits(args.traits_json.as_deref(), &assignments)?);
    for issue in draft.validate().iter().filter(|i| !i.is_error()) {
        eprintln!("groupscope: warning: {issue}");
    }
    let now = EventTime::from_utc_ms(chrono::Utc::now().timestamp_millis());
    let event = match draft.to_event(now) {
        Ok(e) => e,
        Err(issues) => {
            eprintln!("groupscope: the call is not valid, nothing was sent:");
            for issue in issues {
                eprintln!("  {issue}");
            }
            return Ok(ExitCode::from(EXIT_USAGE));
        }
    };
    if args.dry_run {
        println!("{}", json_safe(serde_json::to_string_pretty(&event)?));
        return Ok(ExitCode::SUCCESS);
    }
    let mut store = Store::open(store_path(common)?)?;
    if args.local {
        let raw = event.to_string();
        store.save_local(&new_event(&event, &raw, store::Origin::Local))?;
        println!(
            "kept locally in {} (never sent), messageId {}",
            store.path().display(),
            draft.message_id
        );
        return Ok(ExitCode::SUCCESS);
    }
    let Some(plane) = resolve_data_plane(&args.plane)? else {
        anyhow::bail!(
            "no data plane configured: set RUDDERSTACK_DATA_PLANE_URL and RUDDERSTACK_WRITE_KEY \
             (or --data-plane-url/--write-key, or a profile), or use --local or --dry-run"
        );
    };
    let transport = UreqTransport::new(plane, &HttpConfig::default());
    let result = dispatch(
        &mut store,
        &transport,
        &event,
        &args.plane.policy(),
        &AtomicBool::new(false),
        &mut |a| {
            if a.next_delay.is_some() {
                let outcome = format!("{:?}", a.outcome);
                eprintln!(
                    "groupscope: attempt {}/{}: {}",
                    a.attempt,
                    a.max_attempts,
                    safe(&outcome)
                );
            }
        },
    )?;
    Ok(report(&result, &draft.message_id))
}

fn report(result: &Dispatch, message_id: &str) -> ExitCode {
    match result {
        // The description quotes the server's answer: shown escaped, never run.
        Dispatch::Sent { .. } => {
            println!("{} (messageId {message_id})", safe(&result.describe()));
            ExitCode::SUCCESS
        }
        Dispatch::Rejected { .. } => {
            eprintln!(
                "groupscope: {} (messageId {message_id})",
                safe(&result.describe())
            );
            ExitCode::from(EXIT_REJECTED)
        }
        Dispatch::Queued { .. } => {
            eprintln!(
                "groupscope: {} (messageId {message_id})",
                safe(&result.describe())
            );
            ExitCode::from(EXIT_QUEUED)
        }
    }
}

/// Runs `outbox`.
pub fn run_outbox(args: &OutboxArgs, common: &Common) -> anyhow::Result<ExitCode> {
    let mut store = Store::open(store_path(common)?)?;
    match &args.action {
        OutboxAction::List { json } => {
            let entries = store.outbox()?;
            if *json {
                let list: Vec<_> = entries
                    .iter()
                    .map(|e| {
                        json!({
                            "id": e.id,
                            "message_id": e.message_id,
                            "attempts": e.attempts,
                            "last_error": e.last_error,
                            "created": EventTime::from_utc_ms(e.created_ms).to_rfc3339(),
                            "payload": serde_json::from_str::<serde_json::Value>(&e.payload).ok(),
                        })
                    })
                    .collect();
                println!("{}", json_safe(serde_json::to_string_pretty(&list)?));
            } else if entries.is_empty() {
                println!("the outbox is empty");
            } else {
                for e in &entries {
                    let v: serde_json::Value = serde_json::from_str(&e.payload).unwrap_or_default();
                    println!(
                        "{:>4}  {}  group {}  {} attempt{}  {}",
                        e.id,
                        EventTime::from_utc_ms(e.created_ms).to_short(),
                        safe(v["groupId"].as_str().unwrap_or("?")),
                        e.attempts,
                        if e.attempts == 1 { "" } else { "s" },
                        safe(e.last_error.as_deref().unwrap_or("not tried yet"))
                    );
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        OutboxAction::Drop { ids, all } => {
            let targets: Vec<i64> = if *all {
                store.outbox()?.iter().map(|e| e.id).collect()
            } else {
                ids.clone()
            };
            let mut dropped = 0;
            for id in targets {
                if store.remove_outbox(id)? {
                    dropped += 1;
                } else {
                    eprintln!("groupscope: no outbox entry {id}");
                }
            }
            println!(
                "dropped {dropped} call{}",
                if dropped == 1 { "" } else { "s" }
            );
            Ok(ExitCode::SUCCESS)
        }
        OutboxAction::Retry { ids, plane } => {
            let plane_args = plane;
            let Some(plane) = resolve_data_plane(plane_args)? else {
                anyhow::bail!(
                    "no data plane configured: set RUDDERSTACK_DATA_PLANE_URL and RUDDERSTACK_WRITE_KEY"
                );
            };
            let transport = UreqTransport::new(plane, &HttpConfig::default());
            let entries: Vec<_> = store
                .outbox()?
                .into_iter()
                .filter(|e| ids.is_empty() || ids.contains(&e.id))
                .collect();
            let mut worst = ExitCode::SUCCESS;
            let (mut sent, mut waiting) = (0, 0);
            for e in entries {
                let result = retry_entry(
                    &mut store,
                    &transport,
                    e.id,
                    &e.payload,
                    &plane_args.policy(),
                    &AtomicBool::new(false),
                    &mut |_| {},
                )?;
                let code = report(&result, &e.message_id);
                if result_is_sent(&result) {
                    sent += 1;
                } else {
                    waiting += 1;
                    worst = code;
                }
            }
            println!("{sent} sent, {waiting} still in the outbox");
            Ok(worst)
        }
    }
}

fn result_is_sent(d: &Dispatch) -> bool {
    matches!(d, Dispatch::Sent { .. })
}
