//! Starting and stopping the bridge: database, homeserver check, appservice server, bot,
//! self-ping, then serve until a signal.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::bridge::Bridge;
use crate::clock::Clock;
use crate::config::Config;
use crate::db;
use crate::matrix::appservice;
use crate::matrix::client::{HomeserverClient, HomeserverError};
use crate::matrix::ids::BridgeIds;
use crate::matrix::retry::RetryPolicy;
use crate::metrics::Metrics;

/// How long handled transaction and event IDs are kept: far beyond any homeserver retry.
const HANDLED_RETENTION: Duration = Duration::from_secs(7 * 24 * 60 * 60);

pub async fn run(config: Config, config_dir: PathBuf) -> anyhow::Result<()> {
    let config = Arc::new(config);
    let clock: Arc<dyn Clock> = crate::clock::bridge_clock();
    let db = db::connect(&config.database, &config_dir).await?;
    tracing::info!(backend = db.backend_name(), "database ready");
    let ids = BridgeIds::new(&config.appservice, &config.homeserver.domain)?;

    let homeserver = config.homeserver.address.as_str();
    let client = HomeserverClient::connect(
        homeserver,
        &config.appservice.as_token,
        config.homeserver.request_timeout,
        RetryPolicy::default(),
    )
    .await
    .with_context(|| {
        format!("the homeserver at {homeserver} (homeserver.address) is not usable")
    })?;

    let metrics = Arc::new(Metrics::new());
    let bridge = Arc::new(Bridge::new(
        config.clone(),
        client.clone(),
        db.clone(),
        ids.clone(),
        clock.clone(),
        metrics,
    ));
    if config.metrics.enabled {
        crate::metrics_server::start(bridge.clone(), config.metrics.listen).await?;
    }
    let ready = Arc::new(AtomicBool::new(false));
    let router = appservice::router(
        &config.appservice.hs_token,
        db.clone(),
        ids.clone(),
        bridge.clone(),
        clock.clone(),
        ready.clone(),
    );
    let router = router.merge(crate::provisioning::router(
        bridge.clone(),
        &config.provisioning,
    ));
    let listen = format!("{}:{}", config.appservice.hostname, config.appservice.port);
    let listener = TcpListener::bind(&listen).await.with_context(|| {
        format!("cannot listen on {listen} (appservice.hostname and appservice.port); is another program using the port?")
    })?;
    tracing::info!(%listen, "appservice listening");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(async move {
        let mut stop_rx = stop_rx;
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stop_rx.wait_for(|stop| *stop).await;
            })
            .await
    });

    bridge.prepare_bot().await.context(
        "cannot register the bridge bot; is the registration file installed in the homeserver?",
    )?;
    check_homeserver_reaches_us(&client, &ids, &config).await;
    let resumed = bridge
        .resume_sessions()
        .await
        .context("cannot read the stored logins")?;
    tracing::info!(resumed, "WhatsApp sessions resumed");
    prune_handled(&db, clock.as_ref()).await;
    ready.store(true, Ordering::Release);
    tracing::info!(bot = %ids.bot(), "bridge ready");

    let pruner = {
        let db = db.clone();
        let clock = clock.clone();
        tokio::spawn(async move {
            let mut every_day = tokio::time::interval(Duration::from_secs(24 * 60 * 60));
            every_day.tick().await;
            loop {
                every_day.tick().await;
                prune_handled(&db, clock.as_ref()).await;
            }
        })
    };

    wait_for_signal().await;
    tracing::info!("stopping");
    ready.store(false, Ordering::Release);
    pruner.abort();
    let _ = stop_tx.send(true);
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => tracing::warn!(error = %err, "appservice server stopped with an error"),
        Err(err) => tracing::warn!(error = %err, "appservice server task failed"),
    }
    bridge.stop_sessions().await;
    db.close().await;
    Ok(())
}

/// The homeserver pings us through its own ping endpoint. Failing that, the bridge still
/// runs (the homeserver may come round), but the admin learns what to check.
async fn check_homeserver_reaches_us(client: &HomeserverClient, ids: &BridgeIds, config: &Config) {
    match client
        .ping_appservice(ids.bot(), &config.appservice.id)
        .await
    {
        Ok(duration) => tracing::info!(
            round_trip_ms = duration.as_millis() as u64,
            "the homeserver reaches the bridge"
        ),
        Err(err) => {
            let advice = ping_advice(&err, config);
            tracing::error!(error = %err, "the homeserver cannot reach the bridge: {advice}");
        }
    }
}

fn ping_advice(err: &HomeserverError, config: &Config) -> String {
    let address = config.appservice.address.as_str();
    match err.errcode() {
        Some("M_CONNECTION_FAILED") | Some("M_CONNECTION_TIMEOUT") => format!(
            "it tried {address} (appservice.address, the `url` of the registration). Check that this \
             address reaches this process from the homeserver's host or container, that \
             appservice.hostname/port ({}:{}) listen where that address points, and that no firewall is in the way",
            config.appservice.hostname, config.appservice.port
        ),
        Some("M_FORBIDDEN") | Some("M_UNKNOWN_TOKEN") => "the homeserver does not know this bridge's as_token: \
             install the current registration file (app_service_config_files) and restart the homeserver"
            .to_owned(),
        Some("M_UNRECOGNIZED") | Some("M_NOT_FOUND") => {
            "the homeserver does not support appservice pings (Matrix 1.7); messages may still work".to_owned()
        }
        _ => format!("check appservice.address ({address}) and that the registration file is installed"),
    }
}

async fn prune_handled(db: &db::Db, clock: &dyn Clock) {
    let retention_ms = i64::try_from(HANDLED_RETENTION.as_millis()).unwrap_or(i64::MAX);
    if let Err(err) = db.prune_handled(clock.now_ms() - retention_ms).await {
        tracing::warn!(error = %err, "could not prune old transaction records");
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
