//! The partitioned run's bucket stage on Apache DataFusion Ballista (`docs/distributed.md`).
//!
//! A run with `--cluster` does the keys pass and the split on the machine that runs
//! `qianbiao run` (the driver), into a spill folder every executor can read. The bucket
//! stage, where the rows of each bucket are loaded, the person view built and every rule
//! run, is then a Ballista job: a scan of the table [`BucketsTable`], whose physical plan
//! [`BucketsExec`] has one partition per bucket, over a work list of bucket numbers and a
//! DataFusion Parquet scan per source of the spill. Ballista plans the job, hands the K
//! tasks to its executors, re-runs a task whose executor is lost, and streams each task's
//! output back. A task hands its bucket's record batches to polars ([`bridge`]) and calls
//! [`qianbiao_engine::check_bucket_with`], the stage a run on one machine runs on each
//! bucket: every rule keeps one implementation. The driver merges the K results in bucket
//! order, exactly as a run on one machine does, so the outputs are byte-identical.
//!
//! What crosses the wire: the job (policy, as_of, the file table and reports, the
//! identity-linkage decisions, the bucket sizes) as a JSON file in the spill folder, named
//! in the plan by the codecs [`QianbiaoLogicalCodec`] and [`QianbiaoPhysicalCodec`]; a
//! bucket's result as JSON in record batches of (bucket, piece, pieces, bytes), pieces of
//! at most [`PIECE_BYTES`], each checked for completeness on arrival.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, LargeBinaryArray, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use ballista::prelude::{SessionConfigExt, SessionContextExt};
use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result as DfResult, TableReference};
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::TableType;
use datafusion::execution::{SendableRecordBatchStream, SessionStateBuilder, TaskContext};
use datafusion::logical_expr::{Expr, Extension, LogicalPlan};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use qianbiao_core::SourceKind;
use qianbiao_engine::{
    bucket_folder, check_bucket_with, BucketJob, BucketResult, BucketRunner, EngineError,
    PartitionInput,
};

pub mod bridge;

/// The largest piece of a bucket's result in one record batch (Ballista's gRPC messages
/// are limited to 16 MiB by default).
pub const PIECE_BYTES: usize = 4 << 20;

/// The name of the job file in the spill folder.
pub const JOB_FILE: &str = "job.json";

/// Where a run's bucket stage goes: `--cluster standalone` or `--cluster df://HOST:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cluster {
    /// A scheduler and one executor inside this process.
    Standalone,
    /// A running `qianbiao scheduler`, e.g. `df://10.0.0.5:50050`.
    Remote(String),
}

impl Cluster {
    /// Reads `--cluster`'s value.
    pub fn parse(text: &str) -> Result<Cluster, String> {
        let t = text.trim();
        if t == "standalone" {
            return Ok(Cluster::Standalone);
        }
        let Some(rest) = t.strip_prefix("df://") else {
            return Err(format!(
                "--cluster {t:?}: expected `standalone` or `df://HOST:PORT` (a qianbiao \
                 scheduler)"
            ));
        };
        match rest.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => {
                Ok(Cluster::Remote(t.to_string()))
            }
            _ => Err(format!(
                "--cluster {t:?}: expected df://HOST:PORT, e.g. df://localhost:50050"
            )),
        }
    }
}

/// The output of the bucket stage: per bucket, its result's JSON in numbered pieces.
fn result_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("bucket", DataType::UInt32, false),
        Field::new("piece", DataType::UInt32, false),
        Field::new("pieces", DataType::UInt32, false),
        Field::new("bytes", DataType::LargeBinary, false),
    ]))
}

fn df_error(e: impl fmt::Display) -> DataFusionError {
    DataFusionError::Execution(e.to_string())
}

/// What the codecs send for the table and its plan: the job file and the bucket count.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct JobRef {
    job: PathBuf,
    buckets: u32,
    /// The sources of the node's inputs after the work list, in load order (a node's
    /// codec only; a table's is empty: its scan lists the spill folder).
    #[serde(default)]
    sources: Vec<SourceKind>,
}

/// The buckets of a job as a table: one row per piece of a bucket's result.
#[derive(Debug)]
pub struct BucketsTable {
    job: JobRef,
    schema: SchemaRef,
}

impl BucketsTable {
    fn new(job: JobRef) -> BucketsTable {
        BucketsTable {
            job,
            schema: result_schema(),
        }
    }
}

/// The work list of the stage: one row per bucket, bucket b in partition b.
fn work_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(
        "bucket",
        DataType::UInt32,
        false,
    )]))
}

/// The work list as a DataFusion memory source: a plain leaf Ballista knows how to give
/// each task only its own partitions of.
fn work_list(buckets: u32) -> DfResult<Arc<dyn ExecutionPlan>> {
    let partitions = (0..buckets)
        .map(|b| {
            RecordBatch::try_new(work_schema(), vec![Arc::new(UInt32Array::from(vec![b]))])
                .map(|batch| vec![batch])
        })
        .collect::<Result<Vec<_>, _>>()?;
    let exec: Arc<dyn ExecutionPlan> =
        MemorySourceConfig::try_new_exec(&partitions, work_schema(), None)?;
    Ok(exec)
}

#[async_trait::async_trait]
impl TableProvider for BucketsTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        _projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        _limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let spill = self
            .job
            .job
            .parent()
            .ok_or_else(|| df_error("the job file has no folder"))?;
        Ok(Arc::new(BucketsExec::new(
            self.job.job.clone(),
            work_list(self.job.buckets)?,
            source_scans(spill, self.job.buckets as usize)?,
        )))
    }
}

/// The bucket stage as a plan node over the work list: for each bucket number its input
/// partition holds, it runs [`check_bucket_with`] on the bucket's rows from the source
/// scans and emits the result's pieces.
#[derive(Debug)]
pub struct BucketsExec {
    job: PathBuf,
    input: Arc<dyn ExecutionPlan>,
    /// Per source present, the scan of its spilled parts: partition b reads bucket b's.
    sources: Vec<(SourceKind, Arc<dyn ExecutionPlan>)>,
    properties: Arc<PlanProperties>,
}

impl BucketsExec {
    fn new(
        job: PathBuf,
        input: Arc<dyn ExecutionPlan>,
        sources: Vec<(SourceKind, Arc<dyn ExecutionPlan>)>,
    ) -> BucketsExec {
        let partitions = input.properties().partitioning.partition_count();
        let properties = PlanProperties::new(
            EquivalenceProperties::new(result_schema()),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        BucketsExec {
            job,
            input,
            sources,
            properties: Arc::new(properties),
        }
    }
}

impl DisplayAs for BucketsExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "QianbiaoBucketsExec: job={}", self.job.display())
    }
}

/// Runs bucket `b` of the job in `path` and cuts its result into record batches.
fn bucket_batches(path: &Path, b: usize, input: &mut Batches) -> DfResult<Vec<RecordBatch>> {
    let bytes = std::fs::read(path).map_err(|e| df_error(format!("{}: {e}", path.display())))?;
    let job: BucketJob =
        serde_json::from_slice(&bytes).map_err(|e| df_error(format!("{}: {e}", path.display())))?;
    let result =
        check_bucket_with(&job, b, input).map_err(|e| df_error(format!("bucket {b}: {e}")))?;
    let json = serde_json::to_vec(&result).map_err(df_error)?;
    let pieces: Vec<&[u8]> = json.chunks(PIECE_BYTES).collect();
    let n = pieces.len() as u32;
    pieces
        .into_iter()
        .enumerate()
        .map(|(i, piece)| {
            RecordBatch::try_new(
                result_schema(),
                vec![
                    Arc::new(UInt32Array::from(vec![b as u32])),
                    Arc::new(UInt32Array::from(vec![i as u32])),
                    Arc::new(UInt32Array::from(vec![n])),
                    Arc::new(LargeBinaryArray::from(vec![piece])),
                ],
            )
            .map_err(DataFusionError::from)
        })
        .collect()
}

/// The bucket numbers of the work list's batches.
fn bucket_numbers(batches: &[RecordBatch]) -> DfResult<Vec<usize>> {
    let mut out = Vec::new();
    for batch in batches {
        let col = batch
            .column(0)
            .as_any()
            .downcast_ref::<UInt32Array>()
            .ok_or_else(|| df_error("the work list is not a column of bucket numbers"))?;
        out.extend(col.values().iter().map(|&b| b as usize));
    }
    Ok(out)
}

impl ExecutionPlan for BucketsExec {
    fn name(&self) -> &str {
        "QianbiaoBucketsExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        std::iter::once(&self.input)
            .chain(self.sources.iter().map(|(_, p)| p))
            .collect()
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false; 1 + self.sources.len()]
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true; 1 + self.sources.len()]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        let kinds: Vec<SourceKind> = self.sources.iter().map(|(s, _)| *s).collect();
        Ok(Arc::new(with_inputs(self.job.clone(), &kinds, children)?))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let work = self.input.execute(partition, context.clone())?;
        let streams = self
            .sources
            .iter()
            .map(|(s, plan)| Ok((*s, plan.execute(partition, context.clone())?)))
            .collect::<DfResult<Vec<_>>>()?;
        let path = self.job.clone();
        let batches = async move {
            let list: Vec<RecordBatch> = work.try_collect().await?;
            let buckets = bucket_numbers(&list)?;
            let [b] = buckets[..] else {
                return Err(df_error(format!(
                    "a task of the bucket stage was given buckets {buckets:?}, not one"
                )));
            };
            let mut input = Batches {
                runtime: tokio::runtime::Handle::current(),
                streams,
            };
            // The stage is CPU work on rayon's pool: off the async runtime's threads.
            tokio::task::spawn_blocking(move || bucket_batches(&path, b, &mut input))
                .await
                .map_err(df_error)?
        };
        let stream = futures::stream::once(batches).flat_map(|r: DfResult<Vec<RecordBatch>>| {
            futures::stream::iter(match r {
                Ok(batches) => batches.into_iter().map(Ok).collect::<Vec<_>>(),
                Err(e) => vec![Err(e)],
            })
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            result_schema(),
            stream,
        )))
    }
}

use futures::{StreamExt, TryStreamExt};

/// A node from its inputs: the work list, then one scan per source of `kinds`.
fn with_inputs(
    job: PathBuf,
    kinds: &[SourceKind],
    mut inputs: Vec<Arc<dyn ExecutionPlan>>,
) -> DfResult<BucketsExec> {
    if inputs.len() != 1 + kinds.len() {
        return Err(DataFusionError::Internal(format!(
            "QianbiaoBucketsExec takes the work list and {} scans, not {} inputs",
            kinds.len(),
            inputs.len()
        )));
    }
    let scans = inputs.split_off(1);
    let work = inputs.remove(0);
    Ok(BucketsExec::new(
        job,
        work,
        kinds.iter().copied().zip(scans).collect(),
    ))
}

/// The spill's Parquet parts of a source as DataFusion scans: file group b holds bucket
/// b's parts in the order the split wrote them, read one after the other. Sources with
/// no part in any bucket are left out (a bucket's input gives no rows for them).
fn source_scans(spill: &Path, k: usize) -> DfResult<Vec<(SourceKind, Arc<dyn ExecutionPlan>)>> {
    use datafusion::datasource::listing::PartitionedFile;
    use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
    use datafusion::datasource::source::DataSourceExec;
    use datafusion::execution::object_store::ObjectStoreUrl;
    let mut scans = Vec::new();
    for s in SourceKind::ALL {
        let mut groups = Vec::with_capacity(k);
        let mut first: Option<PathBuf> = None;
        for b in 0..k {
            let folder = bucket_folder(spill, b, s);
            let mut files: Vec<PathBuf> = match std::fs::read_dir(&folder) {
                Ok(entries) => entries
                    .map(|e| e.map(|e| e.path()))
                    .collect::<Result<_, _>>()
                    .map_err(|e| df_error(format!("{}: {e}", folder.display())))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(e) => return Err(df_error(format!("{}: {e}", folder.display()))),
            };
            // part-000000, part-000001, ...: the split's order.
            files.sort();
            if first.is_none() {
                first = files.first().cloned();
            }
            let parts = files
                .iter()
                .map(|p| {
                    let size = std::fs::metadata(p)
                        .map_err(|e| df_error(format!("{}: {e}", p.display())))?
                        .len();
                    Ok(PartitionedFile::new(p.to_string_lossy().into_owned(), size))
                })
                .collect::<DfResult<Vec<_>>>()?;
            groups.push(FileGroup::new(parts));
        }
        let Some(first) = first else {
            continue;
        };
        let schema = spill_schema(&first)?;
        let config = FileScanConfigBuilder::new(
            ObjectStoreUrl::local_filesystem(),
            Arc::new(ParquetSource::new(schema)),
        )
        .with_file_groups(groups)
        .build();
        let scan: Arc<dyn ExecutionPlan> = DataSourceExec::from_data_source(config);
        scans.push((s, scan));
    }
    Ok(scans)
}

/// The Arrow schema of a spilled part, text as string views (polars' own layout, so the
/// columns cross without a copy).
fn spill_schema(path: &Path) -> DfResult<SchemaRef> {
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let file =
        std::fs::File::open(path).map_err(|e| df_error(format!("{}: {e}", path.display())))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| df_error(format!("{}: {e}", path.display())))?;
    let fields: Vec<Field> = builder
        .schema()
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Utf8 | DataType::LargeUtf8 => {
                Field::new(f.name(), DataType::Utf8View, f.is_nullable())
            }
            _ => f.as_ref().clone(),
        })
        .collect();
    Ok(Arc::new(Schema::new(fields)))
}

/// A bucket's rows as the stage reads them: each source's record batches from its scan,
/// handed over as polars frames through the C Data Interface ([`bridge`]).
struct Batches {
    runtime: tokio::runtime::Handle,
    streams: Vec<(SourceKind, SendableRecordBatchStream)>,
}

impl PartitionInput for Batches {
    fn next_batch(
        &mut self,
        s: SourceKind,
    ) -> Result<Option<polars::prelude::DataFrame>, EngineError> {
        let Some((_, stream)) = self.streams.iter_mut().find(|(k, _)| *k == s) else {
            return Ok(None);
        };
        // Called from the stage's threads (rayon's or a blocking task), never from the
        // runtime's own: waiting here is allowed.
        loop {
            match self.runtime.block_on(stream.next()) {
                None => return Ok(None),
                Some(Err(e)) => return Err(engine_error(format!("{} rows: {e}", s.name()))),
                Some(Ok(batch)) if batch.num_rows() == 0 => continue,
                Some(Ok(batch)) => {
                    return bridge::frame(&batch)
                        .map(Some)
                        .map_err(|e| engine_error(format!("{} rows: {e}", s.name())))
                }
            }
        }
    }
}

/// Our own nodes are tagged 1, Ballista's (and DataFusion's) 0 followed by their bytes.
const OURS: u8 = 1;
const THEIRS: u8 = 0;

fn encode_ours(job: &JobRef, buf: &mut Vec<u8>) -> DfResult<()> {
    buf.push(OURS);
    serde_json::to_writer(buf, job).map_err(df_error)
}

fn decode_ours(buf: &[u8]) -> DfResult<JobRef> {
    serde_json::from_slice(buf).map_err(df_error)
}

/// The logical codec of the client and the scheduler: the buckets table, then Ballista's.
#[derive(Debug, Default)]
pub struct QianbiaoLogicalCodec {
    inner: BallistaLogicalExtensionCodec,
}

impl LogicalExtensionCodec for QianbiaoLogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> DfResult<Extension> {
        self.inner.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> DfResult<()> {
        self.inner.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> DfResult<Arc<dyn TableProvider>> {
        match buf.split_first() {
            Some((&OURS, rest)) => Ok(Arc::new(BucketsTable::new(decode_ours(rest)?))),
            Some((&THEIRS, rest)) => self
                .inner
                .try_decode_table_provider(rest, table_ref, schema, ctx),
            _ => Err(DataFusionError::Internal(
                "a table provider of neither qianbiao nor Ballista".into(),
            )),
        }
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> DfResult<()> {
        if let Some(t) = node.downcast_ref::<BucketsTable>() {
            return encode_ours(&t.job, buf);
        }
        buf.push(THEIRS);
        self.inner.try_encode_table_provider(table_ref, node, buf)
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> DfResult<Arc<dyn datafusion::datasource::file_format::FileFormatFactory>> {
        self.inner.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn datafusion::datasource::file_format::FileFormatFactory>,
    ) -> DfResult<()> {
        self.inner.try_encode_file_format(buf, node)
    }
}

/// The physical codec of the scheduler and the executors: the bucket stage's node, then
/// Ballista's (shuffle readers and writers, ...).
#[derive(Debug, Default)]
pub struct QianbiaoPhysicalCodec {
    inner: BallistaPhysicalExtensionCodec,
}

impl PhysicalExtensionCodec for QianbiaoPhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        match buf.split_first() {
            Some((&OURS, rest)) => {
                let job = decode_ours(rest)?;
                Ok(Arc::new(with_inputs(
                    job.job,
                    &job.sources,
                    inputs.to_vec(),
                )?))
            }
            Some((&THEIRS, rest)) => self.inner.try_decode(rest, inputs, ctx, proto_converter),
            _ => Err(DataFusionError::Internal(
                "a plan node of neither qianbiao nor Ballista".into(),
            )),
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> DfResult<()> {
        if let Some(e) = node.downcast_ref::<BucketsExec>() {
            let job = JobRef {
                job: e.job.clone(),
                buckets: e.properties.partitioning.partition_count() as u32,
                sources: e.sources.iter().map(|(s, _)| *s).collect(),
            };
            return encode_ours(&job, buf);
        }
        buf.push(THEIRS);
        self.inner.try_encode(node, buf, proto_converter)
    }
}

/// A session configuration with qianbiao's codecs, one task per executor slot.
fn session_config() -> SessionConfig {
    SessionConfig::new_with_ballista()
        .with_ballista_logical_extension_codec(Arc::new(QianbiaoLogicalCodec::default()))
        .with_ballista_physical_extension_codec(Arc::new(QianbiaoPhysicalCodec::default()))
        // One bucket at a time in the standalone executor, as on one machine: a bucket
        // is sized to the memory limit, and the stage uses every core by itself.
        .with_ballista_standalone_parallelism(1)
        // A round-robin repartition above the stage would run every bucket once per
        // output partition of the repartition, in each of its tasks.
        .with_round_robin_repartition(false)
        // A scan's file group is a bucket: never split across partitions.
        .with_repartition_file_scans(false)
}

/// Runs the bucket stage on a Ballista cluster.
pub struct BallistaRunner {
    cluster: Cluster,
}

impl BallistaRunner {
    /// A runner for `--cluster`.
    pub fn new(cluster: Cluster) -> BallistaRunner {
        BallistaRunner { cluster }
    }

    async fn run_async(&self, job_ref: JobRef) -> DfResult<Vec<RecordBatch>> {
        let state = SessionStateBuilder::new()
            .with_config(session_config())
            .with_default_features()
            .build();
        let ctx = match &self.cluster {
            Cluster::Standalone => SessionContext::standalone_with_state(state).await?,
            Cluster::Remote(url) => SessionContext::remote_with_state(url, state).await?,
        };
        let df = ctx.read_table(Arc::new(BucketsTable::new(job_ref)))?;
        df.collect().await
    }
}

fn engine_error(e: impl fmt::Display) -> EngineError {
    EngineError::Config(format!("cluster: {e}"))
}

/// Reassembles the buckets' results from the stage's record batches; an error unless
/// every bucket 0..K came back whole, exactly once.
pub fn assemble(batches: &[RecordBatch], k: usize) -> Result<Vec<BucketResult>, EngineError> {
    let mut pieces: Vec<Vec<Option<&[u8]>>> = vec![Vec::new(); k];
    for batch in batches {
        let col = |i: usize| batch.column(i).as_any();
        let (Some(bucket), Some(piece), Some(count), Some(bytes)) = (
            col(0).downcast_ref::<UInt32Array>(),
            col(1).downcast_ref::<UInt32Array>(),
            col(2).downcast_ref::<UInt32Array>(),
            col(3).downcast_ref::<LargeBinaryArray>(),
        ) else {
            return Err(engine_error(
                "the bucket stage returned batches of another shape",
            ));
        };
        for row in 0..batch.num_rows() {
            let b = bucket.value(row) as usize;
            let (i, n) = (piece.value(row) as usize, count.value(row) as usize);
            let slot = pieces
                .get_mut(b)
                .ok_or_else(|| engine_error(format!("a result for bucket {b} of {k}")))?;
            if slot.is_empty() {
                slot.resize(n, None);
            }
            if slot.len() != n || i >= n || slot[i].is_some() {
                return Err(engine_error(format!(
                    "bucket {b}: piece {i} of {n} does not fit the pieces already received"
                )));
            }
            slot[i] = Some(bytes.value(row));
        }
    }
    pieces
        .into_iter()
        .enumerate()
        .map(|(b, slot)| {
            if slot.is_empty() || slot.iter().any(Option::is_none) {
                return Err(engine_error(format!("bucket {b} came back incomplete")));
            }
            let json: Vec<u8> = slot.into_iter().flatten().flatten().copied().collect();
            serde_json::from_slice(&json).map_err(|e| engine_error(format!("bucket {b}: {e}")))
        })
        .collect()
}

impl BucketRunner for BallistaRunner {
    fn run(&self, job: &BucketJob) -> Result<Vec<BucketResult>, EngineError> {
        let spill = std::path::absolute(&job.spill).map_err(engine_error)?;
        let path = spill.join(JOB_FILE);
        let bytes = serde_json::to_vec(job).map_err(engine_error)?;
        std::fs::write(&path, bytes)
            .map_err(|e| engine_error(format!("{}: {e}", path.display())))?;
        let k = job.buckets();
        let job_ref = JobRef {
            job: path,
            buckets: u32::try_from(k).map_err(engine_error)?,
            sources: Vec::new(),
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(engine_error)?;
        let batches = runtime
            .block_on(self.run_async(job_ref))
            .map_err(|e| engine_error(first_line(&e.to_string())))?;
        runtime.shutdown_background();
        assemble(&batches, k)
    }
}

/// The first line of an error, trimmed: a run fails with one clear line.
fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").trim().to_string()
}

/// `qianbiao scheduler`: a Ballista scheduler that knows qianbiao's plan nodes.
pub fn run_scheduler(bind: &str, port: u16, executor_timeout_seconds: u64) -> anyhow::Result<()> {
    use ballista_scheduler::cluster::BallistaCluster;
    use ballista_scheduler::config::SchedulerConfig;
    let config = SchedulerConfig {
        bind_host: bind.to_string(),
        bind_port: port,
        executor_timeout_seconds,
        expire_dead_executor_interval_seconds: executor_timeout_seconds.clamp(1, 15),
        override_logical_codec: Some(Arc::new(QianbiaoLogicalCodec::default())),
        override_physical_codec: Some(Arc::new(QianbiaoPhysicalCodec::default())),
        override_config_producer: Some(Arc::new(session_config)),
        ..Default::default()
    };
    let address = format!("{bind}:{port}").parse()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let cluster = BallistaCluster::new_from_config(&config).await?;
        ballista_scheduler::scheduler_process::start_server(cluster, address, Arc::new(config))
            .await?;
        anyhow::Ok(())
    })
}

/// `qianbiao executor`'s settings.
#[derive(Debug, Clone)]
pub struct ExecutorSettings {
    /// The scheduler's host and port.
    pub scheduler_host: String,
    /// The scheduler's port.
    pub scheduler_port: u16,
    /// The address to listen on.
    pub bind: String,
    /// The Arrow Flight port (shuffle and results).
    pub port: u16,
    /// The gRPC port.
    pub grpc_port: u16,
    /// Tasks at once.
    pub slots: usize,
    /// Seconds between heartbeats.
    pub heartbeat_seconds: u64,
    /// Shuffle files.
    pub work_dir: Option<String>,
}

/// `qianbiao executor`: a Ballista executor that runs qianbiao's bucket stage.
pub fn run_executor(s: &ExecutorSettings) -> anyhow::Result<()> {
    use ballista_executor::executor_process::{start_executor_process, ExecutorProcessConfig};
    let config = ExecutorProcessConfig {
        bind_host: s.bind.clone(),
        port: s.port,
        grpc_port: s.grpc_port,
        scheduler_host: s.scheduler_host.clone(),
        scheduler_port: s.scheduler_port,
        vcores: s.slots.max(1),
        work_dir: s.work_dir.clone(),
        executor_heartbeat_interval_seconds: s.heartbeat_seconds.max(1),
        override_logical_codec: Some(Arc::new(QianbiaoLogicalCodec::default())),
        override_physical_codec: Some(Arc::new(QianbiaoPhysicalCodec::default())),
        override_config_producer: Some(Arc::new(session_config)),
        ..Default::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(start_executor_process(Arc::new(config)))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_addresses_read_as_standalone_or_a_scheduler() {
        assert_eq!(Cluster::parse("standalone"), Ok(Cluster::Standalone));
        assert_eq!(
            Cluster::parse("df://10.0.0.5:50050"),
            Ok(Cluster::Remote("df://10.0.0.5:50050".into()))
        );
        for bad in [
            "local",
            "df://host",
            "df://:50050",
            "df://h:port",
            "http://h:1",
        ] {
            let e = Cluster::parse(bad).unwrap_err();
            assert!(e.contains("--cluster") && e.contains(bad), "{e}");
        }
    }

    fn batch(b: u32, piece: u32, pieces: u32, bytes: &[u8]) -> RecordBatch {
        RecordBatch::try_new(
            result_schema(),
            vec![
                Arc::new(UInt32Array::from(vec![b])),
                Arc::new(UInt32Array::from(vec![piece])),
                Arc::new(UInt32Array::from(vec![pieces])),
                Arc::new(LargeBinaryArray::from(vec![bytes])),
            ],
        )
        .unwrap()
    }

    /// A bucket result's JSON, cut in two at `at`.
    fn halves(at: usize) -> (Vec<u8>, Vec<u8>) {
        let json = serde_json::to_vec(&BucketResult::default()).unwrap();
        (json[..at].to_vec(), json[at..].to_vec())
    }

    #[test]
    fn results_are_put_together_in_bucket_order_whatever_the_arrival_order() {
        let whole = serde_json::to_vec(&BucketResult::default()).unwrap();
        let (a, b) = halves(5);
        let got = assemble(
            &[
                batch(1, 1, 2, &b),
                batch(0, 0, 1, &whole),
                batch(1, 0, 2, &a),
            ],
            2,
        )
        .unwrap();
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn a_missing_repeated_or_foreign_piece_fails_the_run() {
        let whole = serde_json::to_vec(&BucketResult::default()).unwrap();
        let (a, b) = halves(5);
        let cases: Vec<(Vec<RecordBatch>, &str)> = vec![
            (
                vec![batch(0, 0, 1, &whole)],
                "bucket 1 came back incomplete",
            ),
            (
                vec![batch(0, 0, 1, &whole), batch(1, 0, 2, &a)],
                "bucket 1 came back incomplete",
            ),
            (
                vec![
                    batch(0, 0, 1, &whole),
                    batch(0, 0, 1, &whole),
                    batch(1, 0, 1, &whole),
                ],
                "piece 0 of 1",
            ),
            (
                vec![
                    batch(0, 0, 1, &whole),
                    batch(1, 1, 2, &b),
                    batch(1, 0, 3, &a),
                ],
                "piece 0 of 3",
            ),
            (vec![batch(2, 0, 1, &whole)], "bucket 2 of 2"),
        ];
        for (batches, want) in cases {
            let e = assemble(&batches, 2).unwrap_err().to_string();
            assert!(e.starts_with("cluster: ") && e.contains(want), "{e}");
        }
        // Bytes that are not a result: an error, never a default.
        let e = assemble(&[batch(0, 0, 1, b"{}")], 1)
            .unwrap_err()
            .to_string();
        assert!(e.contains("bucket 0"), "{e}");
    }

    #[test]
    fn the_codecs_carry_the_job_and_hand_other_nodes_to_ballista() {
        let job = JobRef {
            job: PathBuf::from("/shared/out/.qianbiao-spill-1/job.json"),
            buckets: 7,
            sources: Vec::new(),
        };
        let exec: Arc<dyn ExecutionPlan> = Arc::new(BucketsExec::new(
            job.job.clone(),
            work_list(7).unwrap(),
            Vec::new(),
        ));
        let mut buf = Vec::new();
        encode_ours(&job, &mut buf).unwrap();
        assert_eq!(buf[0], OURS);
        assert_eq!(decode_ours(&buf[1..]).unwrap(), job);
        assert_eq!(exec.properties().partitioning.partition_count(), 7);
        let table: Arc<dyn TableProvider> = Arc::new(BucketsTable::new(job.clone()));
        let mut tbuf = Vec::new();
        QianbiaoLogicalCodec::default()
            .try_encode_table_provider(&TableReference::bare("t"), table, &mut tbuf)
            .unwrap();
        assert_eq!(tbuf, buf);
        // A tag of neither kind is refused.
        let ctx = SessionContext::new();
        let e = QianbiaoLogicalCodec::default()
            .try_decode_table_provider(
                &[9, 1, 2],
                &TableReference::bare("t"),
                result_schema(),
                &ctx.task_ctx(),
            )
            .unwrap_err();
        assert!(
            e.to_string().contains("neither qianbiao nor Ballista"),
            "{e}"
        );
    }
}
