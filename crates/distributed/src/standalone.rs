//! The standalone cluster (`--cluster standalone`): Ballista's scheduler and one executor
//! inside the run's process, the executor's shuffle files in a folder the run owns.
//!
//! Ballista 55's own standalone executor (`ballista_executor::new_standalone_executor_from_state`,
//! which `SessionContext::standalone_with_state` starts) names its work folder after a
//! `TempDir` it drops at once: the first shuffle writer makes the folder again, and
//! nothing ever removes it. Every standalone run so left its shuffle files, about the
//! size of its input (2 GB at 10M persons), in the system's temporary folder, run after
//! run. [`start`] is that function with the folder given: the runner puts it in the
//! run's spill folder and removes it when the job is done.

use std::path::Path;
use std::sync::Arc;

use arrow_flight::flight_service_server::FlightServiceServer;
use ballista_core::extension::SessionConfigExt;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::serde::protobuf::ExecutorRegistration;
use ballista_core::serde::scheduler::{
    ExecutorOperatingSystemSpecification, ExecutorSpecification,
};
use ballista_core::serde::BallistaCodec;
use ballista_core::utils::{create_grpc_server, GrpcServerConfig};
use ballista_core::{ConfigProducer, RuntimeProducer, BALLISTA_PROTOCOL_VERSION};
use ballista_executor::execution_loop;
use ballista_executor::executor::Executor;
use ballista_executor::flight_service::BallistaFlightService;
use ballista_executor::metrics::LoggingMetricsCollector;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::SessionState;

fn config_error(e: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Configuration(format!("standalone cluster: {e}"))
}

/// Starts a scheduler and an executor in this process (on the current tokio runtime:
/// they stop with it), the executor's shuffle files under `work_dir`; returns the
/// scheduler's address as `df://localhost:PORT`.
pub(crate) async fn start(state: &SessionState, work_dir: &Path) -> DfResult<String> {
    let addr = ballista_scheduler::standalone::new_standalone_scheduler_from_state(state)
        .await
        .map_err(config_error)?;
    let scheduler_url = format!("http://localhost:{}", addr.port());
    // The scheduler's server is spawned, not yet listening: try again until it is.
    let mut tries = 0;
    let scheduler = loop {
        match SchedulerGrpcClient::connect(scheduler_url.clone()).await {
            Ok(client) => break client,
            Err(e) if tries >= 100 => return Err(config_error(e)),
            Err(_) => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
    };

    std::fs::create_dir_all(work_dir)
        .map_err(|e| config_error(format!("{}: {e}", work_dir.display())))?;
    let work_dir = work_dir
        .to_str()
        .ok_or_else(|| config_error(format!("{} is not UTF-8", work_dir.display())))?
        .to_string();

    let config = state.config().clone().upgrade_for_ballista();
    let vcores = config.ballista_standalone_parallelism();
    let max_message_size = config.ballista_grpc_client_max_message_size();
    let codec: BallistaCodec<
        datafusion_proto::protobuf::LogicalPlanNode,
        datafusion_proto::protobuf::PhysicalPlanNode,
    > = BallistaCodec::new(
        config.ballista_logical_extension_codec(),
        config.ballista_physical_extension_codec(),
    );
    let runtime = state.runtime_env().clone();
    let config_producer: ConfigProducer = Arc::new(move || config.clone());
    let runtime_producer: RuntimeProducer = Arc::new(move |_| Ok(runtime.clone()));

    // A free port on loopback, chosen by the system.
    let listener = tokio::net::TcpListener::bind("localhost:0")
        .await
        .map_err(config_error)?;
    let address = listener.local_addr().map_err(config_error)?;
    let meta = ExecutorRegistration {
        id: ballista_core::ids::new_instance_id(),
        host: Some("localhost".to_string()),
        port: u32::from(address.port()),
        // As Ballista's standalone executor: no executor gRPC server runs here.
        grpc_port: 50020,
        specification: Some(
            ExecutorSpecification::default()
                .with_vcores(vcores as u32)
                .into(),
        ),
        os_info: Some(ExecutorOperatingSystemSpecification::default().into()),
        ballista_protocol_version: BALLISTA_PROTOCOL_VERSION,
    };
    let executor = Arc::new(Executor::with_default_execution_engine(
        meta,
        &work_dir,
        runtime_producer,
        config_producer,
        Arc::new(state.into()),
        Arc::new(LoggingMetricsCollector::default()),
        vcores,
    ));
    let flight = FlightServiceServer::new(BallistaFlightService::new(work_dir))
        .max_decoding_message_size(max_message_size)
        .max_encoding_message_size(max_message_size);
    tokio::spawn(
        create_grpc_server(&GrpcServerConfig::default())
            .add_service(flight)
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    tokio::spawn(execution_loop::poll_loop(
        scheduler,
        executor,
        codec,
        None,
        None,
        ballista_executor::health::ExecutorHealth::new(),
    ));
    Ok(format!("df://localhost:{}", addr.port()))
}
