//! The command line (contract: `strata serve|check|schema …`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use strata_app::{AppError, ServeOptions};
use strata_config::Layer;
use strata_telemetry::LogFormat;

/// Strata: the model, tool and workflow gateways of an AI stack, in one binary.
#[derive(Debug, Parser)]
#[command(name = "strata", version, about, propagate_version = true)]
pub struct Cli {
    /// Log format: json (one object per line) or pretty.
    #[arg(long, global = true, env = "STRATA_LOG_FORMAT", default_value = "pretty", value_parser = parse_format)]
    log_format: LogFormat,
    /// Log filter, e.g. `info` or `info,strata_app=debug` (RUST_LOG wins when set).
    #[arg(long, global = true, env = "STRATA_LOG", default_value = "info")]
    log_level: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway layers and the admin listener.
    Serve {
        /// Config file; the embedded defaults when absent.
        #[arg(long, short, env = "STRATA_CONFIG")]
        config: Option<PathBuf>,
        /// The layers to run, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "ai,mcp,agent", value_parser = parse_layer)]
        layers: Vec<Layer>,
        /// Threads that serve requests; one per CPU when absent. Fewer leaves CPUs to other
        /// busy processes on the same machine (see docs/deployment.md).
        #[arg(long, env = "STRATA_WORKERS", value_parser = clap::value_parser!(u16).range(1..=1024))]
        workers: Option<u16>,
    },
    /// Validate a config file and print every error with its line.
    Check {
        /// Config file.
        #[arg(long, short, env = "STRATA_CONFIG")]
        config: PathBuf,
    },
    /// Print the JSON Schema of the config file.
    Schema,
    /// Check a config for known misconfigurations (and, with --live, the running deployment it
    /// describes); prints a pass/warn/fail table with a fix for each, exits 1 when one fails.
    Doctor {
        /// Config file; the embedded defaults when absent.
        #[arg(long, short, env = "STRATA_CONFIG")]
        config: Option<PathBuf>,
        /// Also check the running deployment through its listeners.
        #[arg(long)]
        live: bool,
        /// The key presented to the ai, mcp and agent layers by --live.
        #[arg(long, env = "STRATA_DOCTOR_KEY")]
        key: Option<String>,
        /// How many processes will run this config (shared state is checked above 1).
        #[arg(long, default_value_t = 1)]
        replicas: u32,
        /// table or json.
        #[arg(long, default_value = "table")]
        format: String,
        /// Print the checklist (docs/checklist.md) and exit.
        #[arg(long)]
        checklist: bool,
    },
    /// Workflow runs: list, show as a tree, replay from the journal, cancel.
    Runs {
        /// Config file (its `storage`); the embedded defaults when absent.
        #[arg(long, short, global = true, env = "STRATA_CONFIG")]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: RunsCli,
    },
    /// API keys stored in the database: create (the key is shown once), list, revoke.
    Keys {
        /// Config file (its `storage`); the embedded defaults when absent.
        #[arg(long, short, global = true, env = "STRATA_CONFIG")]
        config: Option<PathBuf>,
        #[command(subcommand)]
        command: KeysCli,
    },
    /// What model calls cost, grouped by key, team, model or provider, over a time range.
    Spend {
        /// Config file (its `storage`); the embedded defaults when absent.
        #[arg(long, short, env = "STRATA_CONFIG")]
        config: Option<PathBuf>,
        /// Group by key, team, model or provider.
        #[arg(long, default_value = "key")]
        by: String,
        /// Start: a date (2026-11-01), RFC 3339 time, milliseconds, or an age (30d, 12h).
        #[arg(long, default_value = "30d")]
        since: String,
        /// End (default now), in the same forms.
        #[arg(long)]
        until: Option<String>,
        /// Only this key.
        #[arg(long)]
        key: Option<String>,
        /// Only this team.
        #[arg(long)]
        team: Option<String>,
    },
    /// The audit log, newest first: every MCP operation and refusal, key and config change.
    Audit {
        /// Config file (its `storage`); the embedded defaults when absent.
        #[arg(long, short, env = "STRATA_CONFIG")]
        config: Option<PathBuf>,
        /// Only this principal (a key's name, or `{issuer}#{subject}` of a token).
        #[arg(long)]
        principal: Option<String>,
        /// Only this virtual MCP server.
        #[arg(long)]
        server: Option<String>,
        /// Only this tool, prompt or resource (or model, workflow…).
        #[arg(long)]
        tool: Option<String>,
        /// Only this operation, e.g. tools/call, auth, key.create.
        #[arg(long)]
        action: Option<String>,
        /// Only this outcome: ok, denied or error.
        #[arg(long)]
        outcome: Option<String>,
        /// Only this layer: ai, mcp, agent, admin.
        #[arg(long)]
        layer: Option<String>,
        /// Start: a date (2026-11-01), RFC 3339 time, milliseconds, or an age (30d, 12h).
        #[arg(long)]
        since: Option<String>,
        /// End (default now), in the same forms.
        #[arg(long)]
        until: Option<String>,
        /// At most this many records.
        #[arg(long, default_value_t = 100)]
        limit: i64,
        /// Records older than the one with this id (the last id of the previous page).
        #[arg(long)]
        before: Option<String>,
        /// table or jsonl.
        #[arg(long, default_value = "table")]
        format: String,
    },
    /// Serve one virtual MCP server on stdin/stdout, for clients that only speak stdio.
    McpStdio {
        /// Config file; the embedded defaults when absent.
        #[arg(long, short, env = "STRATA_CONFIG")]
        config: Option<PathBuf>,
        /// The virtual server (`mcp.servers[].name`).
        #[arg(long)]
        server: String,
    },
}

// Parsed once per process: the size of the variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
enum KeysCli {
    /// Create a key; prints it once.
    Create {
        /// Unique name.
        #[arg(long)]
        name: String,
        /// Roles (repeatable).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Allowed model globs (repeatable); none means any.
        #[arg(long = "model")]
        models: Vec<String>,
        /// The team the key belongs to.
        #[arg(long)]
        team: Option<String>,
        /// Requests per minute.
        #[arg(long)]
        rpm: Option<u64>,
        /// Tokens per minute.
        #[arg(long)]
        tpm: Option<u64>,
        /// Concurrent requests.
        #[arg(long)]
        concurrent: Option<u64>,
        /// Budget in US dollars.
        #[arg(long)]
        budget_usd: Option<f64>,
        /// Budget period: daily, monthly or total.
        #[arg(long, default_value = "monthly")]
        budget_period: String,
        /// Guardrails (repeatable).
        #[arg(long = "guardrail")]
        guardrails: Vec<String>,
        /// Tags as key=value (repeatable).
        #[arg(long = "tag", value_parser = parse_tag)]
        tags: Vec<(String, String)>,
    },
    /// List the stored keys (never the keys themselves).
    List,
    /// Revoke a stored key.
    Revoke {
        /// The key's name.
        name: String,
    },
}

fn parse_tag(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected key=value, got {s:?}"))
}

impl KeysCli {
    fn into_command(self) -> Result<strata_app::KeysCommand, AppError> {
        Ok(match self {
            KeysCli::List => strata_app::KeysCommand::List,
            KeysCli::Revoke { name } => strata_app::KeysCommand::Revoke { name },
            KeysCli::Create {
                name,
                roles,
                models,
                team,
                rpm,
                tpm,
                concurrent,
                budget_usd,
                budget_period,
                guardrails,
                tags,
            } => {
                let period =
                    serde_json::from_value(serde_json::Value::String(budget_period.clone()))
                        .map_err(|_| {
                            AppError::Invalid(format!(
                                "unknown budget period {budget_period:?} (daily, monthly or total)"
                            ))
                        })?;
                let limits = (rpm.is_some() || tpm.is_some() || concurrent.is_some()).then_some(
                    strata_config::KeyLimits {
                        rpm,
                        tpm,
                        concurrent,
                    },
                );
                strata_app::KeysCommand::Create(strata_app::NewKey {
                    name,
                    roles,
                    models,
                    team,
                    budget: budget_usd.map(|usd| strata_config::Budget { usd, period }),
                    limits,
                    guardrails,
                    metadata: tags.into_iter().collect(),
                })
            }
        })
    }
}

#[derive(Debug, Subcommand)]
enum RunsCli {
    /// The newest runs.
    List {
        #[arg(long)]
        workflow: Option<String>,
        /// pending, running, waiting, succeeded, failed or cancelled.
        #[arg(long)]
        status: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
    /// One run as a tree of its steps with status, timings, tokens and cost.
    Show { id: String },
    /// Re-execute a run from its journal without calling anything; exit 1 unless it
    /// reproduces the same inputs, state, status and output.
    Replay { id: String },
    /// Ask a run to stop.
    Cancel {
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
}

impl From<RunsCli> for strata_app::RunsCommand {
    fn from(cli: RunsCli) -> Self {
        match cli {
            RunsCli::List {
                workflow,
                status,
                limit,
            } => Self::List {
                workflow,
                status,
                limit,
            },
            RunsCli::Show { id } => Self::Show { id },
            RunsCli::Replay { id } => Self::Replay { id },
            RunsCli::Cancel { id, reason } => Self::Cancel { id, reason },
        }
    }
}

fn parse_format(s: &str) -> Result<LogFormat, String> {
    s.parse()
}

fn parse_layer(s: &str) -> Result<Layer, String> {
    Layer::parse(s.trim()).ok_or_else(|| format!("unknown layer {s:?} (ai, mcp or agent)"))
}

impl Cli {
    /// Runs the chosen command and returns the process exit code.
    #[allow(clippy::print_stdout, clippy::print_stderr)]
    pub fn run(self) -> ExitCode {
        match self.command {
            Command::Check { config } => {
                ExitCode::from(u8::try_from(strata_app::check(&config)).unwrap_or(1))
            }
            Command::Schema => {
                print!("{}", strata_app::schema());
                ExitCode::SUCCESS
            }
            Command::Runs { config, command } => {
                let mut ok = true;
                let code = run_async(
                    async {
                        let (text, success) =
                            strata_app::runs(config.as_deref(), command.into()).await?;
                        print!("{text}");
                        ok = success;
                        Ok(())
                    },
                    "strata runs",
                );
                if ok { code } else { ExitCode::FAILURE }
            }
            Command::Keys { config, command } => run_async(
                async {
                    let text = strata_app::keys(config.as_deref(), command.into_command()?).await?;
                    print!("{text}");
                    Ok(())
                },
                "strata keys",
            ),
            Command::Spend {
                config,
                by,
                since,
                until,
                key,
                team,
            } => run_async(
                async {
                    let options = strata_app::SpendOptions {
                        by,
                        since,
                        until,
                        key,
                        team,
                    };
                    print!("{}", strata_app::spend(config.as_deref(), options).await?);
                    Ok(())
                },
                "strata spend",
            ),
            Command::Doctor {
                config,
                live,
                key,
                replicas,
                format,
                checklist,
            } => {
                if checklist {
                    print!("{}", strata_app::checklist());
                    return ExitCode::SUCCESS;
                }
                let options = strata_app::DoctorOptions {
                    config,
                    replicas,
                    live: live.then_some(strata_app::LiveOptions { key }),
                    format,
                };
                let mut passed = false;
                let code = run_async(
                    async {
                        let (text, ok) = strata_app::doctor(options).await?;
                        print!("{text}");
                        passed = ok;
                        Ok(())
                    },
                    "strata doctor",
                );
                if passed { code } else { ExitCode::FAILURE }
            }
            Command::Audit {
                config,
                principal,
                server,
                tool,
                action,
                outcome,
                layer,
                since,
                until,
                limit,
                before,
                format,
            } => run_async(
                async {
                    let options = strata_app::AuditOptions {
                        layer,
                        principal,
                        server,
                        target: tool,
                        action,
                        outcome,
                        since,
                        until,
                        limit: Some(limit),
                        before,
                        format: Some(format),
                    };
                    print!("{}", strata_app::audit(config.as_deref(), options).await?);
                    Ok(())
                },
                "strata audit",
            ),
            Command::McpStdio { config, server } => {
                let options = strata_app::McpStdioOptions {
                    config,
                    server,
                    log_format: self.log_format,
                    log_level: self.log_level,
                };
                run_async(strata_app::mcp_stdio(options), "strata mcp-stdio")
            }
            Command::Serve {
                config,
                mut layers,
                workers,
            } => {
                layers.sort();
                layers.dedup();
                let options = ServeOptions {
                    config,
                    layers,
                    log_format: self.log_format,
                    log_level: self.log_level,
                };
                run_async_on(
                    strata_app::serve(options),
                    "strata serve",
                    workers.map(usize::from),
                )
            }
        }
    }
}

/// Runs a command's future on a multi-threaded runtime (one worker per CPU) and turns its
/// outcome into an exit code; config errors are printed one per line.
fn run_async(command: impl Future<Output = Result<(), AppError>>, name: &str) -> ExitCode {
    run_async_on(command, name, None)
}

/// [`run_async`] with `workers` worker threads (tokio's default when `None`).
#[allow(clippy::print_stderr)]
fn run_async_on(
    command: impl Future<Output = Result<(), AppError>>,
    name: &str,
    workers: Option<usize>,
) -> ExitCode {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(workers) = workers {
        builder.worker_threads(workers);
    }
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(AppError::Config(errors)) => {
            eprint!("{errors}");
            eprintln!("{name}: refusing to start with an invalid config");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
