//! The partitioned run's keys pass, split and bucket stage on Apache DataFusion Ballista
//! (`docs/distributed.md`).
//!
//! A run with `--cluster` reads no input file on the machine that runs `qianbiao run`
//! (the driver). Each pass of independent tasks is a Ballista job, a scan of the table
//! [`StageTable`], whose physical plan [`StageExec`] has one partition per task over a
//! work list of task numbers:
//!
//! - the keys: task t reads input file `todo[t]` and writes its rows' key hashes into the
//!   spill folder ([`qianbiao_engine::keys_of_file`]); the driver joins them, file by
//!   file, in its union-find, and writes the bucket of every anchor key (`keys.bin`);
//! - the split: task i reads input file i and writes its rows into the buckets' parts
//!   ([`qianbiao_engine::split_file`]), and returns the file's report and rejected rows;
//! - the checks: task b reads bucket b's parts through a DataFusion Parquet scan per
//!   source, hands the record batches to polars ([`bridge`]) and calls
//!   [`qianbiao_engine::check_bucket_with`].
//!
//! These are the functions a run on one machine calls, file after file and bucket after
//! bucket: every rule keeps one implementation. Ballista plans each job, hands the tasks
//! to its executors, re-runs a task whose executor is lost, and streams each task's
//! output back. The driver merges the results in file and bucket order, exactly as a run
//! on one machine does, so the outputs are byte-identical.
//!
//! What crosses the wire: each stage's job as a JSON file in the spill folder, named in
//! the plan by the codecs [`QianbiaoLogicalCodec`] and [`QianbiaoPhysicalCodec`]; a
//! task's result as JSON in record batches of (task, piece, pieces, bytes), pieces of at
//! most [`PIECE_BYTES`], each checked for completeness on arrival.

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
    bucket_parts, check_bucket_with, keys_file, keys_of_file, read_keys, split_file, BucketJob,
    BucketMap, BucketResult, BucketRunner, EngineError, FileKeys, FileSplit, InputFile, KeysJob,
    KeysTaker, KeysWriter, PartitionInput, Progress, SplitJob,
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

/// The stages a cluster runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
enum Stage {
    /// Task t reads input file `todo[t]` for the keys pass ([`keys_of_file`]).
    Keys,
    /// Task i splits input file i into the buckets' parts ([`split_file`]).
    Split,
    /// Task b checks bucket b ([`check_bucket_with`]).
    #[default]
    Buckets,
}

/// What the codecs send for the table and its plan: the stage, its job file and its
/// number of tasks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct JobRef {
    #[serde(default)]
    stage: Stage,
    job: PathBuf,
    tasks: u32,
    /// The sources of the node's inputs after the work list, in load order (a node's
    /// codec only; a table's is empty: its scan lists the spill folder).
    #[serde(default)]
    sources: Vec<SourceKind>,
}

/// A stage of a job as a table: one row per piece of a task's result.
#[derive(Debug)]
pub struct StageTable {
    job: JobRef,
}

impl StageTable {
    fn new(job: JobRef) -> StageTable {
        StageTable { job }
    }
}

/// The work list of the stage: one row per task (bucket or input file), task i in
/// partition i.
fn work_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(
        "task",
        DataType::UInt32,
        false,
    )]))
}

/// The work list as a DataFusion memory source: a plain leaf Ballista knows how to give
/// each task only its own partitions of.
fn work_list(tasks: u32) -> DfResult<Arc<dyn ExecutionPlan>> {
    let partitions = (0..tasks)
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
impl TableProvider for StageTable {
    fn schema(&self) -> SchemaRef {
        result_schema()
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
        let scans = match self.job.stage {
            Stage::Keys | Stage::Split => Vec::new(),
            Stage::Buckets => source_scans(spill, self.job.tasks as usize)?,
        };
        Ok(Arc::new(StageExec::new(
            self.job.stage,
            self.job.job.clone(),
            work_list(self.job.tasks)?,
            scans,
        )))
    }
}

/// A stage as a plan node over the work list: for the task number its input partition
/// holds, it splits that input file ([`split_file`]) or runs [`check_bucket_with`] on
/// that bucket's rows from the source scans, and emits the result's pieces.
#[derive(Debug)]
pub struct StageExec {
    stage: Stage,
    job: PathBuf,
    input: Arc<dyn ExecutionPlan>,
    /// Per source present, the scan of its spilled parts: partition b reads bucket b's.
    sources: Vec<(SourceKind, Arc<dyn ExecutionPlan>)>,
    properties: Arc<PlanProperties>,
}

impl StageExec {
    fn new(
        stage: Stage,
        job: PathBuf,
        input: Arc<dyn ExecutionPlan>,
        sources: Vec<(SourceKind, Arc<dyn ExecutionPlan>)>,
    ) -> StageExec {
        let partitions = input.properties().partitioning.partition_count();
        let properties = PlanProperties::new(
            EquivalenceProperties::new(result_schema()),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        StageExec {
            stage,
            job,
            input,
            sources,
            properties: Arc::new(properties),
        }
    }
}

impl DisplayAs for StageExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "QianbiaoStageExec: stage={:?}, job={}",
            self.stage,
            self.job.display()
        )
    }
}

/// A job file's identity: its path, modification time and length. A later run may
/// reuse a spill folder's name (the driver's process id), never its job file's stamp.
type Stamp = (PathBuf, Option<std::time::SystemTime>, u64);

fn stamp(path: &Path) -> DfResult<Stamp> {
    let m = std::fs::metadata(path).map_err(|e| df_error(format!("{}: {e}", path.display())))?;
    Ok((path.to_path_buf(), m.modified().ok(), m.len()))
}

/// The last job an executor read, kept for its other tasks: a job file (identity-linkage
/// decisions, a bucket map of 10 bytes an anchor) is read once per executor and pass,
/// not once per task. Tasks of the same job wait for the first to read it. One slot for
/// every pass: the split's bucket map is dropped when the checks begin.
struct Cached<T>(std::sync::Mutex<Option<(Stamp, Arc<T>)>>);

impl<T> Cached<T> {
    const fn new() -> Cached<T> {
        Cached(std::sync::Mutex::new(None))
    }

    fn get(&self, path: &Path, read: impl FnOnce(&Path) -> DfResult<T>) -> DfResult<Arc<T>> {
        let key = stamp(path)?;
        let mut slot = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((k, v)) = slot.as_ref() {
            if *k == key {
                return Ok(v.clone());
            }
        }
        // The old job first: never two jobs' data at once.
        *slot = None;
        let v = Arc::new(read(path)?);
        *slot = Some((key, v.clone()));
        Ok(v)
    }
}

/// A pass's job as an executor reads it. One per executor, behind an `Arc`: the size of
/// its largest variant costs nothing.
#[allow(clippy::large_enum_variant)]
enum Job {
    Keys(KeysJob),
    Split(SplitJob, BucketMap),
    Buckets(BucketJob),
}

static JOB: Cached<Job> = Cached::new();

/// The job of `stage` in `path`, read once per executor and pass.
fn job_of(stage: Stage, path: &Path) -> DfResult<Arc<Job>> {
    let job = JOB.get(path, |p| {
        Ok(match stage {
            Stage::Keys => Job::Keys(read_json(p)?),
            Stage::Split => {
                let job: SplitJob = read_json(p)?;
                let map = BucketMap::read(&job.spill.join(MAP_FILE)).map_err(df_error)?;
                Job::Split(job, map)
            }
            Stage::Buckets => Job::Buckets(read_json(p)?),
        })
    })?;
    match (stage, job.as_ref()) {
        (Stage::Keys, Job::Keys(_))
        | (Stage::Split, Job::Split(..))
        | (Stage::Buckets, Job::Buckets(_)) => Ok(job),
        _ => Err(df_error(format!(
            "{}: the job of another pass than {stage:?}",
            path.display()
        ))),
    }
}

/// The name of the bucket map in the spill folder.
pub const MAP_FILE: &str = "keys.bin";

/// The name of the split's job file in the spill folder.
pub const SPLIT_FILE: &str = "split.json";

/// The name of the keys pass's job file in the spill folder (one for the files read
/// before hukou, then one for hukou, with the names to link).
pub const KEYS_FILE: &str = "keys.json";

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> DfResult<T> {
    let bytes = std::fs::read(path).map_err(|e| df_error(format!("{}: {e}", path.display())))?;
    serde_json::from_slice(&bytes).map_err(|e| df_error(format!("{}: {e}", path.display())))
}

/// Runs task `i` of the stage whose job is in `path` and cuts its result into record
/// batches.
fn task_batches(
    stage: Stage,
    path: &Path,
    i: usize,
    input: &mut Batches,
) -> DfResult<Vec<RecordBatch>> {
    let job = job_of(stage, path)?;
    let json = match job.as_ref() {
        Job::Keys(job) => {
            let file = *job.todo.get(i).ok_or_else(|| {
                df_error(format!("task {i} of a keys pass of {}", job.todo.len()))
            })?;
            let mut out = KeysWriter::create(&keys_file(&job.spill, file)).map_err(df_error)?;
            let result =
                keys_of_file(job, file, &mut |k, d| out.put(k, d), None).map_err(df_error)?;
            out.finish().map_err(df_error)?;
            serde_json::to_vec(&result).map_err(df_error)?
        }
        Job::Buckets(job) => {
            let result = check_bucket_with(job, i, input)
                .map_err(|e| df_error(format!("bucket {i}: {e}")))?;
            serde_json::to_vec(&result).map_err(df_error)?
        }
        Job::Split(job, map) => {
            let result = split_file(job, map, i, None).map_err(df_error)?;
            serde_json::to_vec(&result).map_err(df_error)?
        }
    };
    let pieces: Vec<&[u8]> = json.chunks(PIECE_BYTES).collect();
    let n = pieces.len() as u32;
    pieces
        .into_iter()
        .enumerate()
        .map(|(p, piece)| {
            RecordBatch::try_new(
                result_schema(),
                vec![
                    Arc::new(UInt32Array::from(vec![i as u32])),
                    Arc::new(UInt32Array::from(vec![p as u32])),
                    Arc::new(UInt32Array::from(vec![n])),
                    Arc::new(LargeBinaryArray::from(vec![piece])),
                ],
            )
            .map_err(DataFusionError::from)
        })
        .collect()
}

/// The task numbers of the work list's batches.
fn task_numbers(batches: &[RecordBatch]) -> DfResult<Vec<usize>> {
    let mut out = Vec::new();
    for batch in batches {
        let col = batch
            .column(0)
            .as_any()
            .downcast_ref::<UInt32Array>()
            .ok_or_else(|| df_error("the work list is not a column of task numbers"))?;
        out.extend(col.values().iter().map(|&b| b as usize));
    }
    Ok(out)
}

impl ExecutionPlan for StageExec {
    fn name(&self) -> &str {
        "QianbiaoStageExec"
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
        Ok(Arc::new(with_inputs(
            self.stage,
            self.job.clone(),
            &kinds,
            children,
        )?))
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
        let (stage, path) = (self.stage, self.job.clone());
        let batches = async move {
            let list: Vec<RecordBatch> = work.try_collect().await?;
            let tasks = task_numbers(&list)?;
            let [i] = tasks[..] else {
                return Err(df_error(format!(
                    "a task of the {stage:?} stage was given the work {tasks:?}, not one \
                     item"
                )));
            };
            let mut input = Batches {
                runtime: tokio::runtime::Handle::current(),
                streams,
            };
            // The stage is CPU work on rayon's pool: off the async runtime's threads.
            tokio::task::spawn_blocking(move || task_batches(stage, &path, i, &mut input))
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
    stage: Stage,
    job: PathBuf,
    kinds: &[SourceKind],
    mut inputs: Vec<Arc<dyn ExecutionPlan>>,
) -> DfResult<StageExec> {
    if inputs.len() != 1 + kinds.len() {
        return Err(DataFusionError::Internal(format!(
            "QianbiaoStageExec takes the work list and {} scans, not {} inputs",
            kinds.len(),
            inputs.len()
        )));
    }
    let scans = inputs.split_off(1);
    let work = inputs.remove(0);
    Ok(StageExec::new(
        stage,
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
            let files = bucket_parts(spill, b, s).map_err(df_error)?;
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
            Some((&OURS, rest)) => Ok(Arc::new(StageTable::new(decode_ours(rest)?))),
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
        if let Some(t) = node.downcast_ref::<StageTable>() {
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
                    job.stage,
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
        if let Some(e) = node.downcast_ref::<StageExec>() {
            let job = JobRef {
                stage: e.stage,
                job: e.job.clone(),
                tasks: e.properties.partitioning.partition_count() as u32,
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
        let df = ctx.read_table(Arc::new(StageTable::new(job_ref)))?;
        df.collect().await
    }
}

fn engine_error(e: impl fmt::Display) -> EngineError {
    EngineError::Config(format!("cluster: {e}"))
}

/// Reassembles the tasks' results from a stage's record batches; an error unless every
/// task 0..n came back whole, exactly once. `what` names a task in errors (`bucket`,
/// `file`).
pub fn assemble<T: serde::de::DeserializeOwned>(
    batches: &[RecordBatch],
    n: usize,
    what: &str,
) -> Result<Vec<T>, EngineError> {
    let mut pieces: Vec<Vec<Option<&[u8]>>> = vec![Vec::new(); n];
    for batch in batches {
        let col = |i: usize| batch.column(i).as_any();
        let (Some(task), Some(piece), Some(count), Some(bytes)) = (
            col(0).downcast_ref::<UInt32Array>(),
            col(1).downcast_ref::<UInt32Array>(),
            col(2).downcast_ref::<UInt32Array>(),
            col(3).downcast_ref::<LargeBinaryArray>(),
        ) else {
            return Err(engine_error(format!(
                "the {what} stage returned batches of another shape"
            )));
        };
        for row in 0..batch.num_rows() {
            let t = task.value(row) as usize;
            let (i, m) = (piece.value(row) as usize, count.value(row) as usize);
            let slot = pieces
                .get_mut(t)
                .ok_or_else(|| engine_error(format!("a result for {what} {t} of {n}")))?;
            if slot.is_empty() {
                slot.resize(m, None);
            }
            if slot.len() != m || i >= m || slot[i].is_some() {
                return Err(engine_error(format!(
                    "{what} {t}: piece {i} of {m} does not fit the pieces already received"
                )));
            }
            slot[i] = Some(bytes.value(row));
        }
    }
    pieces
        .into_iter()
        .enumerate()
        .map(|(t, slot)| {
            if slot.is_empty() || slot.iter().any(Option::is_none) {
                return Err(engine_error(format!("{what} {t} came back incomplete")));
            }
            let json: Vec<u8> = slot.into_iter().flatten().flatten().copied().collect();
            serde_json::from_slice(&json).map_err(|e| engine_error(format!("{what} {t}: {e}")))
        })
        .collect()
}

impl BallistaRunner {
    /// Writes a stage's job file into the spill folder and runs its `n` tasks.
    fn stage<T: serde::de::DeserializeOwned>(
        &self,
        stage: Stage,
        path: PathBuf,
        job: &impl serde::Serialize,
        n: usize,
        progress: Option<Progress<'_>>,
    ) -> Result<Vec<T>, EngineError> {
        let what = match stage {
            Stage::Keys => "stage 1/3 keys",
            Stage::Split => "stage 2/3 split",
            Stage::Buckets => "stage 3/3 checks",
        };
        let unit = match stage {
            Stage::Keys | Stage::Split => "files",
            Stage::Buckets => "buckets",
        };
        if let Some(p) = progress {
            p(&format!("[cluster] {what}: {n} {unit}"), 0);
        }
        let bytes = serde_json::to_vec(job).map_err(engine_error)?;
        std::fs::write(&path, bytes)
            .map_err(|e| engine_error(format!("{}: {e}", path.display())))?;
        let job_ref = JobRef {
            stage,
            job: path,
            tasks: u32::try_from(n).map_err(engine_error)?,
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
        let one = match stage {
            Stage::Keys | Stage::Split => "file",
            Stage::Buckets => "bucket",
        };
        assemble(&batches, n, one)
    }
}

/// Makes a job's spill folder and input files absolute paths, which every executor can
/// read (on storage they all mount at the same paths); returns the spill folder.
fn shared_paths(spill: &mut PathBuf, files: &mut [InputFile]) -> Result<PathBuf, EngineError> {
    *spill = std::path::absolute(&*spill).map_err(engine_error)?;
    for f in files {
        f.path = std::path::absolute(&f.path).map_err(engine_error)?;
    }
    Ok(spill.clone())
}

impl BucketRunner for BallistaRunner {
    fn keys(
        &self,
        job: &KeysJob,
        take: &mut dyn KeysTaker,
        progress: Option<Progress<'_>>,
    ) -> Result<(), EngineError> {
        let mut job = job.clone();
        let spill = shared_paths(&mut job.spill, &mut job.files)?;
        let n = job.todo.len();
        if n == 0 {
            return Ok(());
        }
        let results: Vec<FileKeys> =
            self.stage(Stage::Keys, spill.join(KEYS_FILE), &job, n, progress)?;
        // In the order of `todo`: the union-find takes the files as a run on one machine.
        for (&i, keys) in job.todo.iter().zip(results) {
            if let Some(p) = progress {
                p(&format!("[join] {}", job.files[i].rel), keys.rows());
            }
            let path = keys_file(&spill, i);
            read_keys(&path, job.files[i].source, keys.rows(), take)?;
            let _ = std::fs::remove_file(&path);
            take.file(i, keys)?;
        }
        Ok(())
    }

    fn split(
        &self,
        job: &SplitJob,
        map: &BucketMap,
        progress: Option<Progress<'_>>,
    ) -> Result<Vec<FileSplit>, EngineError> {
        let mut job = job.clone();
        let spill = shared_paths(&mut job.spill, &mut job.files)?;
        map.write(&spill.join(MAP_FILE))?;
        let n = job.files.len();
        self.stage(Stage::Split, spill.join(SPLIT_FILE), &job, n, progress)
    }

    fn run(
        &self,
        job: &BucketJob,
        progress: Option<Progress<'_>>,
    ) -> Result<Vec<BucketResult>, EngineError> {
        let spill = std::path::absolute(&job.spill).map_err(engine_error)?;
        self.stage(
            Stage::Buckets,
            spill.join(JOB_FILE),
            job,
            job.buckets(),
            progress,
        )
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
        let got: Vec<BucketResult> = assemble(
            &[
                batch(1, 1, 2, &b),
                batch(0, 0, 1, &whole),
                batch(1, 0, 2, &a),
            ],
            2,
            "bucket",
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
            let e = assemble::<BucketResult>(&batches, 2, "bucket")
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("cluster: ") && e.contains(want), "{e}");
        }
        // Bytes that are not a result: an error, never a default.
        let e = assemble::<BucketResult>(&[batch(0, 0, 1, b"{}")], 1, "bucket")
            .unwrap_err()
            .to_string();
        assert!(e.contains("bucket 0"), "{e}");
        // A split's results are named by file.
        let e = assemble::<FileSplit>(&[], 1, "file")
            .unwrap_err()
            .to_string();
        assert!(e.contains("file 0 came back incomplete"), "{e}");
    }

    #[test]
    fn an_executor_reads_a_job_file_once_and_again_when_it_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("job.json");
        std::fs::write(&path, b"1").unwrap();
        let cache: Cached<String> = Cached::new();
        let reads = std::sync::atomic::AtomicUsize::new(0);
        let read = |p: &Path| {
            reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(std::fs::read_to_string(p).unwrap())
        };
        assert_eq!(*cache.get(&path, read).unwrap(), "1");
        assert_eq!(*cache.get(&path, read).unwrap(), "1");
        assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 1);
        // Another run's job under the same name (a longer file): read again.
        std::fs::write(&path, b"22").unwrap();
        assert_eq!(*cache.get(&path, read).unwrap(), "22");
        assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 2);
        // A job file gone is an error naming it, never the old job.
        std::fs::remove_file(&path).unwrap();
        let e = cache.get(&path, read).unwrap_err().to_string();
        assert!(e.contains("job.json"), "{e}");
    }

    #[test]
    fn an_executor_refuses_the_job_file_of_another_pass() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(KEYS_FILE);
        let job = KeysJob {
            spill: tmp.path().to_path_buf(),
            files: Vec::new(),
            year: 2022,
            todo: vec![0],
            names: Vec::new(),
        };
        std::fs::write(&path, serde_json::to_vec(&job).unwrap()).unwrap();
        let got = job_of(Stage::Keys, &path).unwrap();
        assert!(matches!(got.as_ref(), Job::Keys(k) if k.todo == [0]));
        // The same file (cached now) asked for as the checks' job.
        let err = job_of(Stage::Buckets, &path)
            .err()
            .expect("another pass's job");
        assert!(
            err.to_string()
                .contains("the job of another pass than Buckets"),
            "{err}"
        );
    }

    #[test]
    fn the_codecs_carry_the_job_and_hand_other_nodes_to_ballista() {
        let job = JobRef {
            stage: Stage::Split,
            job: PathBuf::from("/shared/out/.qianbiao-spill-1/split.json"),
            tasks: 7,
            sources: Vec::new(),
        };
        let exec: Arc<dyn ExecutionPlan> = Arc::new(StageExec::new(
            job.stage,
            job.job.clone(),
            work_list(7).unwrap(),
            Vec::new(),
        ));
        let mut buf = Vec::new();
        encode_ours(&job, &mut buf).unwrap();
        assert_eq!(buf[0], OURS);
        assert_eq!(decode_ours(&buf[1..]).unwrap(), job);
        assert_eq!(exec.properties().partitioning.partition_count(), 7);
        let table: Arc<dyn TableProvider> = Arc::new(StageTable::new(job.clone()));
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
