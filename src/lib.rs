//! Builds and runs a Guildhall instance: the binary's commands and the end-to-end tests both
//! start instances through [`Instance`].
#![deny(missing_docs)]

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use anyhow::Context;
use guildhall_api::{AppState, HttpOptions};
use guildhall_core::Config;
use guildhall_federation::delivery::DeliveryWorker;
use guildhall_federation::objects::actor::DbActor;
use guildhall_federation::scheduler::Scheduler;
use guildhall_federation::{FedConfig, FedData, FedState, Urls, local_actors};
use guildhall_mail::receive::{ListenerDoor, Receiver};
use guildhall_mail::worker::MailWorker;
use guildhall_storage::Db;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub mod cli;
mod maintenance;
mod metrics;
mod transfer_cli;

/// What one `guildhall serve` process does. Several processes sharing one PostgreSQL
/// database split the work: any number of `web` processes behind a load balancer, and one or
/// more `worker`s (the queues are claimed with leases, so workers never send twice).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ProcessRole {
    /// Serve HTTP (API, pages, inboxes, streaming) and the SMTP listener; run no queues.
    Web,
    /// Run the queues (delivery, mail, timed jobs) and maintenance; serve no HTTP but
    /// `/metrics` and `/health` on `metrics_listen`.
    Worker,
    /// Both (the default, and what one process on SQLite does).
    #[default]
    All,
}

impl ProcessRole {
    fn serves(self) -> bool {
        self != ProcessRole::Worker
    }

    fn works(self) -> bool {
        self != ProcessRole::Web
    }
}

/// A running instance: its HTTP server and background workers.
pub struct Instance {
    config: Arc<Config>,
    db: Db,
    federation: FedConfig,
    delivery: DeliveryWorker,
    scheduler: Scheduler,
    mail: MailWorker,
    receiver: Receiver,
    mail_port: Option<u16>,
    metrics_port: Option<u16>,
    port: u16,
    /// The public HTTP server (none for a worker).
    server: Option<ServerHandle>,
    /// Ends when the server stops, or for a worker when it is told to stop.
    server_task: JoinHandle<std::io::Result<()>>,
    /// Tells a worker without a server to stop.
    halt: Arc<tokio::sync::Notify>,
    /// The thread hearing other processes' changes (PostgreSQL only).
    listening: Option<guildhall_storage::wakeups::Listening>,
    stop_workers: watch::Sender<bool>,
    workers: Vec<JoinHandle<()>>,
    streams: Arc<guildhall_api::Streamer>,
}

impl std::fmt::Debug for Instance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("domain", &self.config.domain)
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Instance {
    /// Migrates the database, makes sure the instance actor exists, binds `config.listen` and
    /// starts serving, with every role.
    pub async fn start(config: Config, options: HttpOptions) -> anyhow::Result<Instance> {
        Instance::start_as(config, ProcessRole::All, options).await
    }

    /// Like [`Instance::start`], doing only what `role` says (a worker binds no public port).
    pub async fn start_as(
        config: Config,
        role: ProcessRole,
        options: HttpOptions,
    ) -> anyhow::Result<Instance> {
        let listener = match role.serves() {
            true => Some(
                TcpListener::bind(config.listen)
                    .with_context(|| format!("cannot listen on {}", config.listen))?,
            ),
            false => None,
        };
        Instance::launch(config, role, listener, options).await
    }

    /// Like [`Instance::start`], on an already bound listener (tests bind port 0 first, so
    /// they know the port to put in the domain).
    pub async fn start_on(
        config: Config,
        listener: TcpListener,
        options: HttpOptions,
    ) -> anyhow::Result<Instance> {
        Instance::launch(config, ProcessRole::All, Some(listener), options).await
    }

    async fn launch(
        config: Config,
        role: ProcessRole,
        listener: Option<TcpListener>,
        options: HttpOptions,
    ) -> anyhow::Result<Instance> {
        let (db, instance_actor) = prepare(&config).await?;
        let port = match &listener {
            Some(listener) => listener.local_addr()?.port(),
            None => 0,
        };
        let config = Arc::new(config);
        let urls = Urls::new(&config);
        let wakeup = Arc::new(tokio::sync::Notify::new());
        let fed_state = FedState {
            db: db.clone(),
            config: config.clone(),
            urls: urls.clone(),
            delivery_wakeup: wakeup.clone(),
            fetch_signer: None,
        };
        let federation = fed_state.federation_config(&instance_actor).await?;
        let delivery = DeliveryWorker::new(db.clone(), wakeup.clone(), config.insecure)?;
        let shared = match &config.database_url {
            guildhall_core::config::DatabaseUrl::Postgres(url) => Some(url.clone()),
            guildhall_core::config::DatabaseUrl::Sqlite(_) => None,
        };
        let streams = Arc::new(match &shared {
            Some(_) => guildhall_api::Streamer::woken(db.clone()),
            None => guildhall_api::Streamer::new(db.clone()),
        });
        if !options.disable_signals {
            tokio::spawn(close_streams_on_signal(streams.clone()));
        }
        let state = AppState::new(db.clone(), config.clone(), urls, streams.clone());
        let http_metrics = state.http_metrics.clone();
        let mail = MailWorker::new(db.clone(), &config).await?;
        let receiver = Receiver::new(
            federation.clone(),
            std::sync::Arc::new(mail.context().signer.clone()),
            Some(guildhall_api::image_store(&state)),
        );
        let (stop_workers, stopped) = watch::channel(false);
        let mut workers = Vec::new();
        let targets = guildhall_storage::wakeups::Targets {
            changes: vec![streams.wakeup()],
            jobs: vec![wakeup, mail.wakeup()],
        };
        let listening = match shared {
            Some(url) => {
                let listen = move || guildhall_storage::wakeups::listen(url, targets);
                let listening = tokio::task::spawn_blocking(listen).await??;
                workers.push(tokio::spawn(guildhall_storage::wakeups::announce(db.clone(), stopped.clone())));
                Some(listening)
            }
            None => {
                let relay = guildhall_storage::wakeups::relay(db.clone(), targets, stopped.clone());
                workers.push(tokio::spawn(relay));
                None
            }
        };
        let halt = Arc::new(tokio::sync::Notify::new());
        let (server, server_task) = match listener {
            Some(listener) => {
                let options = HttpOptions { pages: Some(guildhall_web::configure), ..options };
                let server = guildhall_api::serve(state, federation.clone(), listener, options)?;
                (Some(server.handle()), tokio::spawn(server))
            }
            None => (None, tokio::spawn(until_told_to_stop(halt.clone(), options.disable_signals))),
        };
        let scheduler = Scheduler::new(federation.clone(), db.clone());
        if role.works() {
            workers.push(tokio::spawn(maintenance::run(
                db.clone(),
                config.media_dir.clone(),
                stopped.clone(),
            )));
            if options.run_delivery {
                workers.push(tokio::spawn(scheduler.clone().run(stopped.clone())));
                workers.push(tokio::spawn(mail.clone().run(stopped.clone())));
                workers.push(tokio::spawn(delivery.clone().run(stopped.clone())));
            }
        }
        let metrics_port = match config.metrics_listen {
            Some(address) => {
                let sources = metrics::Sources {
                    db: db.clone(),
                    delivery: delivery.clone(),
                    streams: streams.clone(),
                    http: http_metrics,
                };
                let (port, task) = metrics::serve(address, sources, stopped.clone()).await?;
                workers.push(task);
                Some(port)
            }
            None => None,
        };
        let mail_port = match config.mail_listen.filter(|_| role.serves()) {
            Some(address) => {
                let (port, task) = listen_for_mail(&config, address, receiver.clone(), stopped).await?;
                workers.push(task);
                Some(port)
            }
            None => None,
        };
        tracing::info!(domain = %config.domain, port, ?role, "guildhall is serving");
        Ok(Instance {
            config,
            db,
            federation,
            delivery,
            scheduler,
            mail,
            receiver,
            mail_port,
            metrics_port,
            port,
            server,
            server_task,
            halt,
            listening,
            stop_workers,
            workers,
            streams,
        })
    }

    /// The port the server listens on (0 for a worker, which serves no HTTP).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The configuration the instance runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The instance's database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Federation context for acting as this instance (local actions, fetches).
    pub fn federation(&self) -> FedData {
        self.federation.to_request_data()
    }

    /// The streaming API's change feed (benchmarks read how many streams are open).
    pub fn streams(&self) -> &Arc<guildhall_api::Streamer> {
        &self.streams
    }

    /// The delivery worker (tests flush it instead of waiting).
    pub fn delivery(&self) -> &DeliveryWorker {
        &self.delivery
    }

    /// The timed-jobs worker: scheduled statuses, poll ends (tests flush it as of a later time).
    pub fn scheduler(&self) -> &Scheduler {
        &self.scheduler
    }

    /// The mail worker (tests flush it instead of waiting).
    pub fn mail(&self) -> &MailWorker {
        &self.mail
    }

    /// Turns reply mail into posts (what `guildhall mail receive` and the listener use).
    pub fn mail_receiver(&self) -> &Receiver {
        &self.receiver
    }

    /// The port of the inbound SMTP listener, when `mail_listen` is set.
    pub fn mail_port(&self) -> Option<u16> {
        self.mail_port
    }

    /// The port of the `/metrics` listener, when `metrics_listen` is set.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics_port
    }

    /// Waits until the server stops by itself (SIGINT/SIGTERM), then stops the workers.
    pub async fn wait(self) -> anyhow::Result<()> {
        let Instance { server_task, stop_workers, workers, db, listening, .. } = self;
        let served = server_task.await;
        finish(stop_workers, workers, listening, &db).await;
        served??;
        Ok(())
    }

    /// Stops gracefully: in-flight requests finish, then workers stop, then the pool closes.
    pub async fn stop(self) -> anyhow::Result<()> {
        self.streams.close();
        match &self.server {
            Some(server) => server.stop(true).await,
            None => self.halt.notify_one(),
        }
        self.wait().await
    }
}

/// What a worker, which has no HTTP server to wait on, waits for: SIGINT or SIGTERM (unless
/// signals are left to the embedding program), or [`Instance::stop`].
async fn until_told_to_stop(halt: Arc<tokio::sync::Notify>, disable_signals: bool) -> std::io::Result<()> {
    if disable_signals {
        halt.notified().await;
        return Ok(());
    }
    tokio::select! {
        _ = halt.notified() => {}
        _ = terminated() => {}
    }
    Ok(())
}

/// Resolves on SIGINT or (on Unix) SIGTERM.
async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// Ends open streaming connections when SIGINT or SIGTERM arrives, so the graceful shutdown
/// actix starts on the same signal is not held open by them.
async fn close_streams_on_signal(streams: Arc<guildhall_api::Streamer>) {
    terminated().await;
    streams.close();
}

/// Creates the data directories, migrates and ensures the instance actor (returned with its
/// key, for signing fetches).
async fn prepare(config: &Config) -> anyhow::Result<(Db, DbActor)> {
    for dir in [&config.data_dir, &config.media_dir] {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create directory {}", dir.display()))?;
    }
    let (db, applied) = Db::connect_and_migrate(&config.database_url)
        .await
        .with_context(|| format!("cannot open the database {}", config.database_url))?;
    if applied > 0 {
        tracing::info!(applied, database = %config.database_url, "applied database migrations");
    }
    let actor = local_actors::ensure_instance_actor(&db, &Urls::new(config), &config.domain.to_string())
        .await
        .context("cannot create the instance actor")?;
    let actor_id = actor.id;
    let key = db.run(move |c| guildhall_storage::actors::private_key(c, actor_id)).await?;
    Ok((db, DbActor::with_private_key(actor, key)?))
}

/// Binds the inbound SMTP listener: it takes only our reply addresses.
async fn listen_for_mail(
    config: &Config,
    address: std::net::SocketAddr,
    receiver: Receiver,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<(u16, JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .with_context(|| format!("cannot listen for mail on {address}"))?;
    let port = listener.local_addr()?.port();
    let domain = format!("@{}", config.mail_from.domain());
    let accept = move |rcpt: &str| {
        let rcpt = rcpt.to_ascii_lowercase();
        rcpt.starts_with("reply+") && rcpt.ends_with(&domain)
    };
    let mut settings = guildhall_mail::listener::ListenerConfig::new(config.domain.host(), accept);
    // Replies are short: a few photos at most. Bounded well under what the parser takes
    // (with the trace headers added), and few sessions at once.
    settings.max_message_bytes = 10 * 1024 * 1024;
    settings.max_connections = 8;
    let door = std::sync::Arc::new(ListenerDoor(receiver));
    let task = tokio::spawn(async move {
        if let Err(e) = guildhall_mail::listener::serve(listener, settings, door, stop).await {
            tracing::warn!(error = %e, "the mail listener stopped");
        }
    });
    tracing::info!(%address, "listening for replies by mail (SMTP)");
    Ok((port, task))
}

/// Signals the workers, waits for them (bounded), stops listening, closes the pool.
async fn finish(
    stop: watch::Sender<bool>,
    workers: Vec<JoinHandle<()>>,
    listening: Option<guildhall_storage::wakeups::Listening>,
    db: &Db,
) {
    let _ = stop.send(true);
    if let Some(listening) = listening {
        // Bounded: a listener stuck connecting must not hold the shutdown.
        let stopping = tokio::task::spawn_blocking(move || listening.stop());
        let _ = tokio::time::timeout(Duration::from_secs(5), stopping).await;
    }
    for worker in workers {
        if tokio::time::timeout(Duration::from_secs(30), worker).await.is_err() {
            tracing::warn!("a background worker did not stop within 30 s");
        }
    }
    db.close();
}

/// What `guildhall mail receive` needs without serving: the database and a receiver that
/// posts through federation (deliveries are queued for the running server to send).
pub async fn mail_receiver(config: &Config) -> anyhow::Result<(Receiver, Db)> {
    let (db, instance_actor) = prepare(config).await?;
    let config = Arc::new(config.clone());
    let urls = Urls::new(&config);
    let fed_state = FedState {
        db: db.clone(),
        config: config.clone(),
        urls: urls.clone(),
        delivery_wakeup: Arc::new(tokio::sync::Notify::new()),
        fetch_signer: None,
    };
    let federation = fed_state.federation_config(&instance_actor).await?;
    let streams = Arc::new(guildhall_api::Streamer::new(db.clone()));
    let state = AppState::new(db.clone(), config.clone(), urls, streams);
    let secret = db.run(guildhall_storage::mail::secret).await?;
    let signer = Arc::new(guildhall_core::mail::Signer::new(&secret));
    Ok((Receiver::new(federation, signer, Some(guildhall_api::image_store(&state))), db))
}

/// Opens and migrates the database only (`guildhall migrate`); returns how many ran.
pub async fn migrate(config: &Config) -> anyhow::Result<usize> {
    if let guildhall_core::config::DatabaseUrl::Sqlite(_) = config.database_url {
        std::fs::create_dir_all(&config.data_dir)?;
    }
    let (db, applied) = Db::connect_and_migrate(&config.database_url).await?;
    db.close();
    Ok(applied)
}
