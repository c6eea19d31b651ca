//! The partitioned run's keys pass, split and bucket stage on Apache DataFusion Ballista
//! (`docs/distributed.md`).
//!
//! A run with `--cluster` reads no input file on the machine that runs `qianbiao run`
//! (the driver). Each job is a scan of the table [`StageTable`], whose physical plan is
//! made of [`StageExec`] nodes, each with one partition per task over a work list:
//!
//! A task reads a **piece** of the input ([`qianbiao_engine::Piece`]): an input file, or,
//! of a Parquet file of more than `task_rows` rows, a run of its row groups.
//!
//! - the keys (a job of its own): task t reads piece `todo[t]` and writes its rows'
//!   key hashes into the spill folder ([`qianbiao_engine::keys_of_piece`]); the driver
//!   joins them, piece by piece, in its union-find, and writes the bucket of every anchor
//!   key (`keys.bin`);
//! - the split and the checks (one job): per source, a split node whose task i reads
//!   that source's i-th piece and emits its rows, tagged with their bucket's key, into a
//!   hash repartition by that key ([`qianbiao_engine::split_file_with`], [`bucket_keys`]);
//!   it writes the piece's report as `split-PPPPPP.json` and its rejected rows apart, as
//!   `rejected-PPPPPP.json` (read by the driver alone). Ballista runs
//!   the repartitions as its shuffle. Task b of the checks node takes bucket b's rows
//!   from the shuffle, puts them back in read order (`bucket_frames`), hands them to
//!   polars ([`bridge`]) and calls [`qianbiao_engine::check_bucket_with`].
//!
//! These are the functions a run on one machine calls, file after file and bucket after
//! bucket: every rule keeps one implementation. Ballista plans each job, hands the tasks
//! to its executors, and re-runs a task whose executor is lost. The driver merges the results in file and bucket order, exactly as a run
//! on one machine does, so the outputs are byte-identical.
//!
//! What crosses the wire: each job as a JSON file in the spill folder, named in the plan
//! by the codecs [`QianbiaoLogicalCodec`] and [`QianbiaoPhysicalCodec`]; the rows as
//! Arrow batches through Ballista's shuffle; a keys task's, a split's and a bucket's
//! result as a JSON file in the spill folder, written whole and renamed into place. The
//! tasks' outputs to Ballista are empty: the driver reads the results from the folder
//! once the job has ended, so a result never depends on the executor that made it still
//! being there (Ballista 55 fetches a final task's output from its executor).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, UInt32Array};
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
    check_bucket_with, keys_file, keys_of_piece, merge_pieces, part_columns, read_keys,
    split_file_with, BucketJob, BucketMap, BucketResult, BucketRunner, ChecksPlan, EngineError,
    FileKeys, FileSplit, InputFile, KeysJob, KeysTaker, KeysWriter, Part, PartSink, PartitionInput,
    Piece, Progress, SplitJob, SplitTook,
};

pub mod bridge;
mod standalone;

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

/// The output schema of a keys or checks task. A task outputs no rows: it writes its
/// result into the spill folder, where the driver reads it ([`task_results`]).
fn result_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(
        "task",
        DataType::UInt32,
        false,
    )]))
}

fn df_error(e: impl fmt::Display) -> DataFusionError {
    DataFusionError::Execution(e.to_string())
}

/// The plan nodes a cluster runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
enum Stage {
    /// Task t reads piece `todo[t]` for the keys pass ([`keys_of_piece`]).
    Keys,
    /// Task i splits the i-th piece of one source ([`split_file_with`]) and emits its
    /// rows, each tagged with its bucket, into Ballista's shuffle.
    Split,
    /// Task b checks bucket b ([`check_bucket_with`]) on the rows the shuffle gives it.
    #[default]
    Buckets,
}

/// What the codecs send for the table and its plan nodes: the stage, its job file and
/// its number of tasks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct JobRef {
    #[serde(default)]
    stage: Stage,
    job: PathBuf,
    tasks: u32,
    /// A checks node's: the sources of its inputs after the work list, in load order; a
    /// split node's: its source.
    #[serde(default)]
    sources: Vec<SourceKind>,
    /// The table's of the checks: per source with files, the numbers of its pieces (a
    /// split node's work list).
    #[serde(default)]
    files: Vec<(SourceKind, Vec<u32>)>,
    /// The table's of the checks: the split's job file.
    #[serde(default)]
    split: Option<PathBuf>,
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
/// each task only its own partitions of. Partition i holds `items[i]` (a file's or a
/// bucket's number).
fn work_list(items: &[u32]) -> DfResult<Arc<dyn ExecutionPlan>> {
    let partitions = items
        .iter()
        .map(|&b| {
            RecordBatch::try_new(work_schema(), vec![Arc::new(UInt32Array::from(vec![b]))])
                .map(|batch| vec![batch])
        })
        .collect::<Result<Vec<_>, _>>()?;
    let exec: Arc<dyn ExecutionPlan> =
        MemorySourceConfig::try_new_exec(&partitions, work_schema(), None)?;
    Ok(exec)
}

/// The work list 0..n.
fn tasks_list(n: u32) -> DfResult<Arc<dyn ExecutionPlan>> {
    work_list(&(0..n).collect::<Vec<_>>())
}

/// A split task with no file to read (see [`checks_plan`]).
const NO_FILE: u32 = u32::MAX;

/// The names of the columns the split adds to a source's part columns: the bucket's
/// shuffle key, the part (input file << 32 | part number) and the row in the part.
const KEY_COLUMN: &str = "qb_key";
const PART_COLUMN: &str = "qb_part";
const ROW_COLUMN: &str = "qb_row";

/// The schema of a split node's output for source `s`: its part columns
/// ([`part_columns`]), then the bucket key, the part and the row.
fn split_schema(s: SourceKind) -> DfResult<SchemaRef> {
    let empty = part_columns(s).map_err(df_error)?;
    let mut fields = bridge::fields(&empty).map_err(df_error)?;
    fields.push(Field::new(KEY_COLUMN, DataType::UInt32, false));
    fields.push(Field::new(PART_COLUMN, DataType::UInt64, false));
    fields.push(Field::new(ROW_COLUMN, DataType::UInt32, false));
    Ok(Arc::new(Schema::new(fields)))
}

/// The shuffle key of each of `k` buckets: the smallest value whose hash sends it to
/// output partition b of a hash repartition into `k` (DataFusion's hash, which Ballista's
/// shuffle writer uses too), so that bucket b's rows are exactly partition b's.
pub fn bucket_keys(k: usize) -> DfResult<Vec<u32>> {
    use datafusion::common::hash_utils::create_hashes;
    use datafusion::physical_plan::repartition::REPARTITION_RANDOM_STATE;
    let mut keys = vec![u32::MAX; k];
    let mut left = k;
    let mut start: u32 = 0;
    const STEP: u32 = 1 << 16;
    while left > 0 {
        let values: Vec<u32> = (start
            ..start.checked_add(STEP).ok_or_else(|| {
                df_error(format!("no shuffle key found for each of {k} buckets"))
            })?)
            .collect();
        let array: arrow::array::ArrayRef = Arc::new(UInt32Array::from(values.clone()));
        let mut hashes = vec![0u64; values.len()];
        create_hashes(
            [&array],
            REPARTITION_RANDOM_STATE.random_state(),
            &mut hashes,
        )?;
        for (v, h) in values.iter().zip(&hashes) {
            let b = (*h % k as u64) as usize;
            if keys[b] == u32::MAX {
                keys[b] = *v;
                left -= 1;
            }
        }
        start += STEP;
    }
    Ok(keys)
}

/// The plan of the split and the checks: per source with files, a split node over its
/// files, hash-repartitioned by bucket key into K partitions (Ballista's shuffle), under
/// the checks node over the work list 0..K.
fn checks_plan(job: &JobRef) -> DfResult<StageExec> {
    use datafusion::physical_plan::repartition::RepartitionExec;
    let split = job
        .split
        .clone()
        .ok_or_else(|| df_error("a checks table without the split's job file"))?;
    let k = job.tasks as usize;
    let mut sources = Vec::new();
    for (s, files) in &job.files {
        // At least two tasks (the second with no file): DataFusion's optimizer takes a
        // single partition as hash-partitioned already and would drop its shuffle.
        let mut work = files.clone();
        if work.len() < 2 {
            work.push(NO_FILE);
        }
        let node: Arc<dyn ExecutionPlan> = Arc::new(StageExec::new(
            Stage::Split,
            split.clone(),
            work_list(&work)?,
            Vec::new(),
            Some(*s),
        )?);
        let key = datafusion::physical_expr::expressions::col(KEY_COLUMN, &node.schema())?;
        let shuffle: Arc<dyn ExecutionPlan> = Arc::new(RepartitionExec::try_new(
            node,
            Partitioning::Hash(vec![key], k),
        )?);
        sources.push((*s, shuffle));
    }
    StageExec::new(
        Stage::Buckets,
        job.job.clone(),
        tasks_list(job.tasks)?,
        sources,
        None,
    )
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
        let exec = match self.job.stage {
            Stage::Keys => StageExec::new(
                Stage::Keys,
                self.job.job.clone(),
                tasks_list(self.job.tasks)?,
                Vec::new(),
                None,
            )?,
            Stage::Buckets => checks_plan(&self.job)?,
            Stage::Split => return Err(df_error("a split is a plan node, not a table")),
        };
        Ok(Arc::new(exec))
    }
}

/// A stage as a plan node over the work list: for the task number its input partition
/// holds, it reads a piece's keys ([`keys_of_piece`]), splits a piece of an input file into
/// the shuffle ([`split_file_with`]), or runs [`check_bucket_with`] on a bucket's rows from the
/// shuffle.
#[derive(Debug)]
pub struct StageExec {
    stage: Stage,
    job: PathBuf,
    input: Arc<dyn ExecutionPlan>,
    /// A checks node's: per source with rows, its shuffle (partition b gives bucket b's
    /// rows).
    sources: Vec<(SourceKind, Arc<dyn ExecutionPlan>)>,
    /// A split node's: the source of its files.
    source: Option<SourceKind>,
    properties: Arc<PlanProperties>,
}

impl StageExec {
    fn new(
        stage: Stage,
        job: PathBuf,
        input: Arc<dyn ExecutionPlan>,
        sources: Vec<(SourceKind, Arc<dyn ExecutionPlan>)>,
        source: Option<SourceKind>,
    ) -> DfResult<StageExec> {
        let partitions = input.properties().partitioning.partition_count();
        let schema = match (stage, source) {
            (Stage::Split, Some(s)) => split_schema(s)?,
            (Stage::Split, None) => return Err(df_error("a split node without its source")),
            _ => result_schema(),
        };
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        Ok(StageExec {
            stage,
            job,
            input,
            sources,
            source,
            properties: Arc::new(properties),
        })
    }
}

impl DisplayAs for StageExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "QianbiaoStageExec: stage={:?}, job={}",
            self.stage,
            self.job.display()
        )?;
        match self.source {
            Some(s) => write!(f, ", source={}", s.name()),
            None => Ok(()),
        }
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

/// What the driver writes for the checks (`job.json`): the plan, and the input files'
/// paths in the data folder, in file order, and the pieces they were split in. With the
/// split's results of every piece (`split-PPPPPP.json`) it makes the bucket stage's job.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct ChecksJob {
    plan: ChecksPlan,
    rels: Vec<String>,
    pieces: Vec<Piece>,
}

/// The name of piece `i`'s split result in the spill folder, without its rejected rows:
/// what every bucket's checks read.
fn split_result_file(spill: &Path, i: usize) -> PathBuf {
    spill.join(format!("split-{i:06}.json"))
}

/// The name of piece `i`'s rejected rows in the spill folder: only the driver reads them.
fn rejected_file(spill: &Path, i: usize) -> PathBuf {
    spill.join(format!("rejected-{i:06}.json"))
}

/// Writes piece `f`'s split result: its rejected rows apart (`rejected-PPPPPP.json`), then
/// the rest (`split-PPPPPP.json`), so that once the second is there both are. Every
/// bucket's checks read every piece's `split-*.json`; a dirty export's rejected rows (its
/// raw text, line by line) would be read, parsed and held by each of them for nothing.
fn write_split_result(spill: &Path, f: usize, mut result: FileSplit) -> DfResult<()> {
    let rejected = serde_json::to_vec(&result.take_rejected()).map_err(df_error)?;
    write_result(&rejected_file(spill, f), &rejected)?;
    let bytes = serde_json::to_vec(&result).map_err(df_error)?;
    write_result(&split_result_file(spill, f), &bytes)
}

/// The name of task `i`'s result in the spill folder: a keys task's (`keys-result-*`) or a
/// bucket's (`bucket-*`).
fn task_result_file(spill: &Path, stage: Stage, i: usize) -> PathBuf {
    match stage {
        Stage::Keys => spill.join(format!("keys-result-{i:06}.json")),
        _ => spill.join(format!("bucket-{i:06}.json")),
    }
}

/// Writes a task's result whole, then renames it into place: a reader never sees half a
/// result, and a task run again replaces it with the same bytes.
fn write_result(out: &Path, bytes: &[u8]) -> DfResult<()> {
    let tmp = out.with_extension(format!("json.{}", std::process::id()));
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, out))
        .map_err(|e| df_error(format!("{}: {e}", out.display())))
}

/// The split results of pieces 0..n without their rejected rows: what the checks read.
fn read_splits(spill: &Path, n: usize) -> DfResult<Vec<FileSplit>> {
    (0..n)
        .map(|i| read_json(&split_result_file(spill, i)))
        .collect()
}

/// The split results of pieces 0..n whole, their rejected rows put back: what the driver
/// reads.
fn read_whole_splits(spill: &Path, n: usize) -> DfResult<Vec<FileSplit>> {
    let mut splits = read_splits(spill, n)?;
    for (i, s) in splits.iter_mut().enumerate() {
        s.put_rejected(read_json(&rejected_file(spill, i))?);
    }
    Ok(splits)
}

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
            Stage::Buckets => {
                let job: ChecksJob = read_json(p)?;
                let splits = read_splits(&job.plan.spill, job.pieces.len())?;
                let splits = merge_pieces(&job.pieces, job.rels.len(), splits).map_err(df_error)?;
                Job::Buckets(job.plan.job(job.rels.iter().map(String::as_str), &splits))
            }
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

/// The name of piece 0's split result in the spill folder: once it is there, the split is
/// under way and has emitted rows into the shuffle.
pub const FIRST_SPLIT_RESULT: &str = "split-000000.json";

/// The name of the keys pass's job file in the spill folder (one for the files read
/// before hukou, then one for hukou, with the names to link).
pub const KEYS_FILE: &str = "keys.json";

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> DfResult<T> {
    let bytes = std::fs::read(path).map_err(|e| df_error(format!("{}: {e}", path.display())))?;
    serde_json::from_slice(&bytes).map_err(|e| df_error(format!("{}: {e}", path.display())))
}

/// Runs task `i` of the keys pass or the checks, whose job is in `path`, and writes its
/// result into the spill folder ([`task_result_file`]). The task's output (to Ballista)
/// is empty: the driver reads the results from the spill folder.
fn task_batches(
    stage: Stage,
    path: &Path,
    i: usize,
    input: &mut Frames,
) -> DfResult<Vec<RecordBatch>> {
    let job = job_of(stage, path)?;
    let (spill, json) = match job.as_ref() {
        Job::Keys(job) => {
            let piece = *job.todo.get(i).ok_or_else(|| {
                df_error(format!("task {i} of a keys pass of {}", job.todo.len()))
            })?;
            let mut out = KeysWriter::create(&keys_file(&job.spill, piece)).map_err(df_error)?;
            let result =
                keys_of_piece(job, piece, &mut |k, d| out.put(k, d), None).map_err(df_error)?;
            out.finish().map_err(df_error)?;
            (&job.spill, serde_json::to_vec(&result).map_err(df_error)?)
        }
        Job::Buckets(job) => {
            let result = check_bucket_with(job, i, input).map_err(|e| {
                // A shuffle read's own error goes back as it is: Ballista tells a lost
                // map output (FetchFailed) by its type and runs that map task again,
                // where any other error fails the job.
                match input.shuffle_error.take() {
                    Some(e) => e.context(format!("bucket {i}")),
                    None => df_error(format!("bucket {i}: {e}")),
                }
            })?;
            (&job.spill, serde_json::to_vec(&result).map_err(df_error)?)
        }
        Job::Split(..) => return Err(df_error("a split task has no result of its own")),
    };
    write_result(&task_result_file(spill, stage, i), &json)?;
    Ok(Vec::new())
}

/// The split's sink on an executor: each part becomes a record batch of the part's
/// columns (through the C Data Interface) and its bucket key, part and rows, sent to the
/// split node's stream and so to Ballista's shuffle writer.
struct ShuffleSink<'a> {
    source: SourceKind,
    file: u64,
    schema: SchemaRef,
    keys: &'a [u32],
    tx: &'a tokio::sync::mpsc::Sender<DfResult<RecordBatch>>,
}

impl PartSink for ShuffleSink<'_> {
    fn parts(&mut self, s: SourceKind, parts: Vec<Part>) -> Result<u64, String> {
        if s != self.source {
            return Err(format!(
                "{} rows from a split of {} files",
                s.name(),
                self.source.name()
            ));
        }
        let mut bytes = 0;
        for p in parts {
            let n = p.frame.height();
            let mut columns = bridge::arrays(&p.frame)?;
            let key = *self
                .keys
                .get(p.bucket)
                .ok_or_else(|| format!("bucket {} of {}", p.bucket, self.keys.len()))?;
            columns.push(Arc::new(UInt32Array::from(vec![key; n])));
            columns.push(Arc::new(arrow::array::UInt64Array::from(vec![
                self.file << 32
                    | u64::from(p.n);
                n
            ])));
            columns.push(Arc::new(UInt32Array::from_iter_values(0..n as u32)));
            let batch =
                RecordBatch::try_new(self.schema.clone(), columns).map_err(|e| e.to_string())?;
            bytes += batch.get_array_memory_size() as u64;
            self.tx
                .blocking_send(Ok(batch))
                .map_err(|_| "the shuffle stopped taking rows".to_string())?;
        }
        Ok(bytes)
    }
}

/// Splits piece `f` (of a file of source `s`) into the shuffle, then writes the piece's
/// result beside the job ([`write_split_result`]): the checks read every piece's, the
/// driver too. A task run again writes the same bytes.
fn split_task(
    path: &Path,
    s: SourceKind,
    f: usize,
    schema: SchemaRef,
    tx: &tokio::sync::mpsc::Sender<DfResult<RecordBatch>>,
) -> DfResult<()> {
    let job = job_of(Stage::Split, path)?;
    let Job::Split(job, map) = job.as_ref() else {
        return Err(df_error("not a split's job"));
    };
    match job.pieces.get(f).and_then(|p| job.files.get(p.file)) {
        Some(file) if file.source == s => {}
        _ => {
            return Err(df_error(format!(
                "piece {f} is not one of the {} pieces of the split",
                s.name()
            )))
        }
    }
    let keys = bucket_keys(job.buckets)?;
    let mut sink = ShuffleSink {
        source: s,
        file: f as u64,
        schema,
        keys: &keys,
        tx,
    };
    let result = split_file_with(job, map, f, None, &mut sink).map_err(df_error)?;
    write_split_result(&job.spill, f, result)
}

/// Rows `start..start + len` of batch `batch`: rows `first..` of part `part`.
#[derive(Debug, Clone, Copy)]
struct Run {
    part: u64,
    first: u32,
    batch: usize,
    start: usize,
    len: usize,
}

/// Appends the runs of batch `bi` (its rows of one part each, consecutive): an error when
/// a row is another bucket's, or the split's columns are missing.
fn batch_runs(
    s: SourceKind,
    key: u32,
    batch: &RecordBatch,
    bi: usize,
    runs: &mut Vec<Run>,
) -> DfResult<()> {
    let width = batch.num_columns();
    if batch.num_rows() == 0 {
        return Ok(());
    }
    let column = |i: Option<usize>, name: &str| -> DfResult<&dyn Array> {
        match i {
            Some(i) if batch.schema().field(i).name() == name => Ok(batch.column(i).as_ref()),
            _ => Err(df_error(format!("{} rows: no column {name}", s.name()))),
        }
    };
    let keys = column(width.checked_sub(3), KEY_COLUMN)?
        .as_any()
        .downcast_ref::<UInt32Array>()
        .ok_or_else(|| df_error("the bucket key is not a UInt32 column"))?;
    if let Some(other) = keys.values().iter().find(|&&k| k != key) {
        return Err(df_error(format!(
            "the shuffle gave {} rows of another bucket (key {other}, not {key})",
            s.name()
        )));
    }
    let parts = column(width.checked_sub(2), PART_COLUMN)?
        .as_any()
        .downcast_ref::<arrow::array::UInt64Array>()
        .ok_or_else(|| df_error("the part is not a UInt64 column"))?
        .values();
    let rows = column(width.checked_sub(1), ROW_COLUMN)?
        .as_any()
        .downcast_ref::<UInt32Array>()
        .ok_or_else(|| df_error("the row is not a UInt32 column"))?
        .values();
    let mut start = 0;
    for i in 1..=batch.num_rows() {
        let ends = i == batch.num_rows()
            || parts[i] != parts[start]
            || rows[i] != rows[i - 1].wrapping_add(1);
        if ends {
            runs.push(Run {
                part: parts[start],
                first: rows[start],
                batch: bi,
                start,
                len: i - start,
            });
            start = i;
        }
    }
    Ok(())
}

/// Puts runs in read order (by part, then row) and checks that each part's rows 0, 1, 2,
/// ... are there once each: a row given twice or a row missing is an error.
fn read_order(s: SourceKind, runs: &mut [Run]) -> DfResult<()> {
    runs.sort_unstable_by_key(|r| (r.part, r.first));
    for (i, r) in runs.iter().enumerate() {
        let expected = match i.checked_sub(1).map(|j| &runs[j]) {
            Some(p) if p.part == r.part => p.first as u64 + p.len as u64,
            _ => 0,
        };
        match (r.first as u64).cmp(&expected) {
            std::cmp::Ordering::Equal => {}
            std::cmp::Ordering::Less => {
                return Err(df_error(format!(
                    "the shuffle gave some {} rows twice",
                    s.name()
                )))
            }
            std::cmp::Ordering::Greater => {
                return Err(df_error(format!(
                    "the shuffle lost some {} rows of part {:#x}",
                    s.name(),
                    r.part
                )))
            }
        }
    }
    Ok(())
}

/// A run's rows without the split's own columns, as polars frames of at most 65,536 rows:
/// slices of the batch (no copy).
fn run_frames(
    s: SourceKind,
    batch: &RecordBatch,
    r: &Run,
) -> DfResult<Vec<polars::prelude::DataFrame>> {
    const FRAME_ROWS: usize = 1 << 16;
    let own: Vec<usize> = (0..batch.num_columns().saturating_sub(3)).collect();
    let mut frames = Vec::new();
    let mut at = r.start;
    while at < r.start + r.len {
        let len = FRAME_ROWS.min(r.start + r.len - at);
        let slice = batch.slice(at, len).project(&own)?;
        frames
            .push(bridge::frame(&slice).map_err(|e| df_error(format!("{} rows: {e}", s.name())))?);
        at += len;
    }
    Ok(frames)
}

/// Bucket b's rows of one source from the shuffle, in the order the split read them (by
/// part, then row), without the split's own columns, as polars frames. The frames are
/// slices of the batches received (no copy): each batch is cut into runs of consecutive
/// rows of one part, and the runs are put in order. A row of another bucket, a row given
/// twice or a row missing from a part is an error. (The checks read the batches back from
/// a spill file instead, [`Spilled`]: this is the same order on batches in memory.)
#[cfg(test)]
fn bucket_frames(
    s: SourceKind,
    key: u32,
    batches: &[RecordBatch],
) -> DfResult<Vec<polars::prelude::DataFrame>> {
    let mut runs: Vec<Run> = Vec::new();
    for (bi, batch) in batches.iter().enumerate() {
        batch_runs(s, key, batch, bi, &mut runs)?;
    }
    read_order(s, &mut runs)?;
    let mut frames = Vec::new();
    for r in &runs {
        frames.extend(run_frames(s, &batches[r.batch], r)?);
    }
    Ok(frames)
}

/// The folder of this process's executor (`--work-dir`, or the temporary folder it made):
/// where a checks task spills a bucket's rows. Unset in a process that is no executor of
/// its own (a standalone cluster's executor spills into the job's standalone folder).
static SPILL_DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Where the checks of the job in `path` spill a bucket's rows: the executor's folder; a
/// standalone cluster's job folder; else the system's temporary folder.
fn spill_dir(path: &Path) -> PathBuf {
    if let Some(dir) = SPILL_DIR.get() {
        return dir.clone();
    }
    let standalone = path.with_extension("standalone");
    if standalone.is_dir() {
        return standalone;
    }
    std::env::temp_dir()
}

/// The bytes of a bucket's batches of one source a checks task holds in memory unless
/// the executor's `--spill-above` says less; beyond, they go to a spill file
/// ([`Spilled`]). By default every bucket stays in memory: spilling wrote about 200 bytes
/// a row and took 20% more time for 19% less memory per executor (10M persons, K = 4,
/// `docs/performance.md`), where a larger K saves more for less. It is for an executor
/// whose memory a bucket outgrows whatever K: a bucket holds whole components, and the
/// largest component bounds it.
pub const HELD_BYTES: usize = usize::MAX;

/// This executor process's `--spill-above`; unset: [`HELD_BYTES`].
static HELD: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

/// A bucket's rows of one source, as the checks read them. The batches come from the
/// shuffle in any order; only their runs of rows are noted, and the batches are held in
/// memory, or, past `held` bytes, written to an unnamed file (Arrow IPC) in the executor's
/// work folder. The runs are then put in read order and the batches read back one at a
/// time: a checks task holds one batch of a large source besides the tables it builds, not
/// all of the source's batches at once. The file has no name: the system removes it when
/// the task drops it, or when the process ends, however it ends.
struct Spilled {
    s: SourceKind,
    store: Store,
    runs: std::iter::Enumerate<std::vec::IntoIter<Run>>,
    /// Per batch, the place in read order of its last run: a batch held in memory is let
    /// go once that run is handed over, as the frames before it were.
    last: Vec<usize>,
    /// The batch last read back, by its number.
    batch: Option<(usize, RecordBatch)>,
    /// The frames of the run being handed over.
    frames: std::collections::VecDeque<polars::prelude::DataFrame>,
}

/// Where a bucket's batches of one source wait.
enum Store {
    Memory(Vec<Option<RecordBatch>>),
    File(Box<arrow::ipc::reader::FileReader<std::io::BufReader<std::fs::File>>>),
}

impl Spilled {
    /// Takes every batch of `stream`, keeping their runs; holds up to `held` bytes of
    /// batches in memory, and spills all of them to a file in `dir` past that.
    fn take(
        s: SourceKind,
        key: u32,
        (dir, held): (&Path, usize),
        runtime: &tokio::runtime::Handle,
        stream: &mut SendableRecordBatchStream,
    ) -> DfResult<Spilled> {
        use arrow::ipc::writer::FileWriter;
        let spill_error = |e: std::io::Error| df_error(format!("{}: {e}", dir.display()));
        let schema = stream.schema();
        let mut runs = Vec::new();
        let mut batches: Vec<RecordBatch> = Vec::new();
        let mut bytes = 0;
        let mut writer: Option<FileWriter<std::io::BufWriter<std::fs::File>>> = None;
        let mut n = 0;
        // Called from the stage's threads (rayon's or a blocking task), never from the
        // runtime's own: waiting here is allowed.
        while let Some(batch) = runtime.block_on(stream.next()) {
            let batch = batch?;
            batch_runs(s, key, &batch, n, &mut runs)?;
            n += 1;
            if let Some(w) = &mut writer {
                w.write(&batch)?;
                continue;
            }
            bytes += batch.get_array_memory_size();
            batches.push(batch);
            if bytes > held {
                let file = std::fs::create_dir_all(dir)
                    .and_then(|()| tempfile::tempfile_in(dir))
                    .map_err(spill_error)?;
                let mut w = FileWriter::try_new_buffered(file, &schema)?;
                for b in batches.drain(..) {
                    w.write(&b)?;
                }
                writer = Some(w);
            }
        }
        read_order(s, &mut runs)?;
        let mut last = vec![0; n];
        for (at, r) in runs.iter().enumerate() {
            last[r.batch] = at;
        }
        let store = match writer {
            None => Store::Memory(batches.into_iter().map(Some).collect()),
            Some(mut w) => {
                w.finish()?;
                let mut file = w
                    .into_inner()?
                    .into_inner()
                    .map_err(|e| spill_error(e.into_error()))?;
                use std::io::Seek;
                file.rewind().map_err(spill_error)?;
                let reader = arrow::ipc::reader::FileReader::try_new_buffered(file, None)?;
                Store::File(Box::new(reader))
            }
        };
        Ok(Spilled {
            s,
            store,
            runs: runs.into_iter().enumerate(),
            last,
            batch: None,
            frames: Default::default(),
        })
    }

    /// Whether the batches went to a file.
    #[cfg(test)]
    fn spilled(&self) -> bool {
        matches!(self.store, Store::File(_))
    }

    /// The batches still held in memory.
    #[cfg(test)]
    fn held(&self) -> usize {
        match &self.store {
            Store::Memory(batches) => batches.iter().flatten().count(),
            Store::File(_) => 0,
        }
    }

    /// The next frame in read order; None when all are read.
    fn next_frame(&mut self) -> DfResult<Option<polars::prelude::DataFrame>> {
        loop {
            if let Some(f) = self.frames.pop_front() {
                return Ok(Some(f));
            }
            let Some((at, run)) = self.runs.next() else {
                // Done: nothing of the source is held any longer.
                self.batch = None;
                self.store = Store::Memory(Vec::new());
                return Ok(None);
            };
            if self.batch.as_ref().map(|(i, _)| *i) != Some(run.batch) {
                // The batch before goes first: one batch read back at a time.
                self.batch = None;
                let missing = || df_error(format!("batch {} of the bucket missing", run.batch));
                let batch = match &mut self.store {
                    Store::Memory(batches) => {
                        let held = batches.get_mut(run.batch).ok_or_else(missing)?;
                        if self.last.get(run.batch) == Some(&at) {
                            held.take()
                        } else {
                            held.clone()
                        }
                        .ok_or_else(missing)?
                    }
                    Store::File(reader) => {
                        reader.set_index(run.batch)?;
                        reader.next().ok_or_else(missing)??
                    }
                };
                self.batch = Some((run.batch, batch));
            }
            if let Some((_, batch)) = &self.batch {
                self.frames = run_frames(self.s, batch, &run)?.into();
            }
        }
    }
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

    /// The work list as it is; each source's rows hash-partitioned by bucket key (as the
    /// plan makes them: DataFusion's optimizer then keeps the shuffles where they are).
    fn required_input_distribution(&self) -> Vec<datafusion::physical_plan::Distribution> {
        use datafusion::physical_plan::Distribution;
        std::iter::once(Distribution::UnspecifiedDistribution)
            .chain(self.sources.iter().map(|(_, p)| {
                match datafusion::physical_expr::expressions::col(KEY_COLUMN, &p.schema()) {
                    Ok(key) => Distribution::KeyPartitioned(vec![key]),
                    Err(_) => Distribution::UnspecifiedDistribution,
                }
            }))
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
        Ok(Arc::new(with_inputs(&self.job_ref(), children)?))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> DfResult<SendableRecordBatchStream> {
        let work = self.input.execute(partition, context.clone())?;
        let (stage, path) = (self.stage, self.job.clone());
        let schema = self.schema();
        if let (Stage::Split, Some(s)) = (stage, self.source) {
            // The split streams its rows as it reads the file: from a blocking task,
            // through a channel of a few batches (the shuffle writer's pace).
            let out = schema.clone();
            let rows = futures::stream::once(async move {
                let list: Vec<RecordBatch> = work.try_collect().await?;
                let f = one_task(stage, &list)?;
                let (tx, rx) = tokio::sync::mpsc::channel::<DfResult<RecordBatch>>(2);
                if f != NO_FILE as usize {
                    tokio::task::spawn_blocking(move || {
                        if let Err(e) = split_task(&path, s, f, out, &tx) {
                            let _ = tx.blocking_send(Err(e));
                        }
                    });
                }
                Ok::<_, DataFusionError>(futures::stream::unfold(rx, |mut rx| async move {
                    rx.recv().await.map(|item| (item, rx))
                }))
            })
            .try_flatten();
            return Ok(Box::pin(RecordBatchStreamAdapter::new(schema, rows)));
        }
        let streams = self
            .sources
            .iter()
            .map(|(s, plan)| Ok((*s, plan.execute(partition, context.clone())?)))
            .collect::<DfResult<Vec<_>>>()?;
        let batches = async move {
            let list: Vec<RecordBatch> = work.try_collect().await?;
            let i = one_task(stage, &list)?;
            let runtime = tokio::runtime::Handle::current();
            // The stage is CPU work on rayon's pool: off the async runtime's threads.
            tokio::task::spawn_blocking(move || {
                let key = match stage {
                    Stage::Buckets => {
                        let keys = bucket_keys(job_buckets(&path)?)?;
                        *keys
                            .get(i)
                            .ok_or_else(|| df_error(format!("bucket {i} of {}", keys.len())))?
                    }
                    _ => 0,
                };
                let mut input = Frames {
                    runtime,
                    key,
                    spill: spill_dir(&path),
                    sources: streams
                        .into_iter()
                        .map(|(s, stream)| (s, Rows::Stream(stream)))
                        .collect(),
                    shuffle_error: None,
                };
                task_batches(stage, &path, i, &mut input)
            })
            .await
            .map_err(df_error)?
        };
        let stream = futures::stream::once(batches).flat_map(|r: DfResult<Vec<RecordBatch>>| {
            futures::stream::iter(match r {
                Ok(batches) => batches.into_iter().map(Ok).collect::<Vec<_>>(),
                Err(e) => vec![Err(e)],
            })
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}

/// The one task number of a task's work list.
fn one_task(stage: Stage, list: &[RecordBatch]) -> DfResult<usize> {
    let tasks = task_numbers(list)?;
    match tasks[..] {
        [i] => Ok(i),
        _ => Err(df_error(format!(
            "a task of the {stage:?} stage was given the work {tasks:?}, not one item"
        ))),
    }
}

/// The number of buckets of the checks' job in `path`.
fn job_buckets(path: &Path) -> DfResult<usize> {
    match job_of(Stage::Buckets, path)?.as_ref() {
        Job::Buckets(job) => Ok(job.buckets()),
        _ => Err(df_error("not the checks' job")),
    }
}

use futures::{StreamExt, TryStreamExt};

impl StageExec {
    /// What the codec sends of this node.
    fn job_ref(&self) -> JobRef {
        JobRef {
            stage: self.stage,
            job: self.job.clone(),
            tasks: self.properties.partitioning.partition_count() as u32,
            sources: match self.source {
                Some(s) => vec![s],
                None => self.sources.iter().map(|(s, _)| *s).collect(),
            },
            files: Vec::new(),
            split: None,
        }
    }
}

/// A node from its inputs: the work list, then (a checks node's) one shuffle per source
/// of `job.sources`.
fn with_inputs(job: &JobRef, mut inputs: Vec<Arc<dyn ExecutionPlan>>) -> DfResult<StageExec> {
    let (kinds, source) = match job.stage {
        Stage::Split => match job.sources[..] {
            [s] => (&[][..], Some(s)),
            _ => return Err(df_error("a split node of one source")),
        },
        _ => (&job.sources[..], None),
    };
    if inputs.len() != 1 + kinds.len() {
        return Err(DataFusionError::Internal(format!(
            "QianbiaoStageExec takes the work list and {} inputs, not {} inputs",
            kinds.len(),
            inputs.len()
        )));
    }
    let shuffles = inputs.split_off(1);
    let work = inputs.remove(0);
    StageExec::new(
        job.stage,
        job.job.clone(),
        work,
        kinds.iter().copied().zip(shuffles).collect(),
        source,
    )
}

/// A bucket's rows as the stage reads them, source by source: when the stage asks for a
/// source's first batch, all of that source's batches are taken from its shuffle reader
/// and put in read order ([`bucket_frames`]); the sources not yet asked for wait in their
/// streams (so a bucket's Arrow batches are held one source at a time, not all at once).
struct Frames {
    runtime: tokio::runtime::Handle,
    /// The bucket's shuffle key.
    key: u32,
    /// Where the bucket's rows are spilled ([`Spilled`]).
    spill: PathBuf,
    sources: Vec<(SourceKind, Rows)>,
    /// The error of a shuffle reader, kept with its type (the engine's error is text).
    shuffle_error: Option<DataFusionError>,
}

/// One source of a bucket: its shuffle stream until the stage asks for it, then its
/// spilled rows.
enum Rows {
    Stream(SendableRecordBatchStream),
    Spilled(Box<Spilled>),
}

impl PartitionInput for Frames {
    fn next_batch(
        &mut self,
        s: SourceKind,
    ) -> Result<Option<polars::prelude::DataFrame>, EngineError> {
        let Some((_, rows)) = self.sources.iter_mut().find(|(k, _)| *k == s) else {
            return Ok(None);
        };
        if let Rows::Stream(stream) = rows {
            let held = HELD.get().copied().unwrap_or(HELD_BYTES);
            let spill = (self.spill.as_path(), held);
            match Spilled::take(s, self.key, spill, &self.runtime, stream) {
                Ok(spilled) => *rows = Rows::Spilled(Box::new(spilled)),
                Err(e) => {
                    let err = engine_error(format!("{} rows: {e}", s.name()));
                    // A shuffle read's own error (a lost map output) goes back to
                    // Ballista as it is.
                    self.shuffle_error = Some(e.context(format!("{} rows", s.name())));
                    return Err(err);
                }
            }
        }
        match rows {
            Rows::Spilled(spilled) => spilled.next_frame().map_err(engine_error),
            Rows::Stream(_) => Ok(None),
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
                Ok(Arc::new(with_inputs(&job, inputs.to_vec())?))
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
            return encode_ours(&e.job_ref(), buf);
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
        // The static planner: a stage boundary at each hash repartition and nothing
        // else. The adaptive one re-plans stages from their statistics (it may coalesce
        // the shuffle's partitions, and a bucket is one partition).
        .set_bool(
            ballista_core::config::BALLISTA_ADAPTIVE_PLANNER_ENABLED,
            false,
        )
}

/// Runs the keys pass, the split and the checks on a Ballista cluster.
pub struct BallistaRunner {
    cluster: Cluster,
    /// How long a job may take before the run gives up (`--cluster-timeout`).
    deadline: Option<std::time::Duration>,
    /// The rows of a task of the keys pass and the split (`--task-rows`).
    task_rows: Option<u64>,
}

/// The rows of a task of the keys pass and the split on a cluster, unless `--task-rows`
/// says otherwise: a Parquet file of more rows is read and split by several executors, a
/// piece of whole row groups each. A task of 4M payments rows takes a few seconds on one
/// executor and holds a few hundred megabytes of the file.
pub use qianbiao_engine::partition::DEFAULT_TASK_ROWS;

impl BallistaRunner {
    /// A runner for `--cluster`.
    pub fn new(cluster: Cluster) -> BallistaRunner {
        BallistaRunner {
            cluster,
            deadline: None,
            task_rows: Some(DEFAULT_TASK_ROWS),
        }
    }

    /// Reads a Parquet file of more than `rows` rows in pieces of whole row groups of
    /// about that many rows, each a task of its own (None: a task per file).
    pub fn with_task_rows(mut self, rows: Option<u64>) -> BallistaRunner {
        self.task_rows = rows;
        self
    }

    /// Gives up a job that has not finished after `deadline`: the run then fails (exit 2,
    /// one line) instead of waiting. Ballista can leave a job waiting for ever after an
    /// executor is lost (`docs/distributed.md`, "Faults").
    pub fn with_deadline(mut self, deadline: std::time::Duration) -> BallistaRunner {
        self.deadline = Some(deadline);
        self
    }

    async fn run_async(&self, job_ref: JobRef) -> DfResult<Vec<RecordBatch>> {
        // The shuffles are hash repartitions into K: DataFusion's own target.
        let target = (job_ref.tasks as usize).max(1);
        let state = SessionStateBuilder::new()
            .with_config(session_config().with_target_partitions(target))
            .with_default_features()
            .build();
        let ctx = match &self.cluster {
            Cluster::Standalone => {
                let url = standalone::start(&state, &standalone_dir(&job_ref)).await?;
                SessionContext::remote_with_state(&url, state).await?
            }
            Cluster::Remote(url) => SessionContext::remote_with_state(url, state).await?,
        };
        let df = ctx.read_table(Arc::new(StageTable::new(job_ref)))?;
        df.collect().await
    }
}

/// The standalone executor's work folder for a job: beside the job's file in the spill
/// folder (`job.json` gives `job.standalone`).
fn standalone_dir(job: &JobRef) -> PathBuf {
    job.job.with_extension("standalone")
}

fn engine_error(e: impl fmt::Display) -> EngineError {
    EngineError::Config(format!("cluster: {e}"))
}

/// The results of tasks 0..n of a job (`stage`) from the spill folder, once the job has
/// ended with `ended`. `what` names a task in errors (`file`, `bucket`).
///
/// A job that failed still gives its results when every task's result is there: a task
/// writes its result only once it has finished with all of its input, and a task run
/// again writes the same bytes, so the results are the run's whatever failed after them.
/// (Ballista 55 keeps the output location of a final task whose executor was lost after
/// it finished, so the client's fetch of that task's output fails a job whose every task
/// has run.) Otherwise the job's error, or the first result missing or unreadable.
fn task_results<T: serde::de::DeserializeOwned>(
    spill: &Path,
    stage: Stage,
    n: usize,
    what: &str,
    ended: DfResult<()>,
) -> Result<Vec<T>, EngineError> {
    let files: Vec<PathBuf> = (0..n).map(|i| task_result_file(spill, stage, i)).collect();
    if let Err(e) = ended {
        if !files.iter().all(|f| f.is_file()) {
            return Err(engine_error(first_line(&e.to_string())));
        }
    }
    files
        .iter()
        .enumerate()
        .map(|(i, f)| {
            if !f.is_file() {
                return Err(engine_error(format!(
                    "{what} {i}: no result in the spill folder"
                )));
            }
            read_json(f).map_err(|e| engine_error(format!("{what} {i}: {e}")))
        })
        .collect()
}

impl BallistaRunner {
    /// Writes a stage's job file into the spill folder and runs its `n` tasks (the keys
    /// pass: `n` files; the checks: `n` buckets, after the split of `files`).
    fn stage<T: serde::de::DeserializeOwned>(
        &self,
        job_ref: JobRef,
        job: &impl serde::Serialize,
        progress: Option<Progress<'_>>,
    ) -> Result<Vec<T>, EngineError> {
        let n = job_ref.tasks as usize;
        if let Some(p) = progress {
            let what = match job_ref.stage {
                Stage::Keys => format!("[cluster] stage 1/3 keys: {n} tasks"),
                _ => format!(
                    "[cluster] stages 2-3/3 split and checks: {} tasks, {n} buckets",
                    job_ref.files.iter().map(|(_, f)| f.len()).sum::<usize>()
                ),
            };
            p(&what, 0);
        }
        let bytes = serde_json::to_vec(job).map_err(engine_error)?;
        std::fs::write(&job_ref.job, bytes)
            .map_err(|e| engine_error(format!("{}: {e}", job_ref.job.display())))?;
        let one = match job_ref.stage {
            Stage::Keys => "keys task",
            _ => "bucket",
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(engine_error)?;
        let what = match job_ref.stage {
            Stage::Keys => "keys",
            _ => "split and checks",
        };
        let work_dir = standalone_dir(&job_ref);
        let stage = job_ref.stage;
        let spill = job_ref
            .job
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let result = runtime.block_on(async {
            match self.deadline {
                None => self.run_async(job_ref).await,
                Some(d) => tokio::time::timeout(d, self.run_async(job_ref))
                    .await
                    .unwrap_or_else(|_| {
                        Err(df_error(format!(
                            "the {what} job did not finish within --cluster-timeout {} s",
                            d.as_secs()
                        )))
                    }),
            }
        });
        // Never waits for the tasks of a job given up (the standalone executor's).
        runtime.shutdown_background();
        if self.cluster == Cluster::Standalone {
            // The job's shuffle files; the spill folder's removal would get them too,
            // but only at the end of the run.
            let _ = std::fs::remove_dir_all(work_dir);
        }
        task_results(&spill, stage, n, one, result.map(drop))
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
    fn task_rows(&self) -> Option<u64> {
        self.task_rows
    }

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
        let job_ref = JobRef {
            stage: Stage::Keys,
            job: spill.join(KEYS_FILE),
            tasks: u32::try_from(n).map_err(engine_error)?,
            sources: Vec::new(),
            files: Vec::new(),
            split: None,
        };
        let results: Vec<FileKeys> = self.stage(job_ref, &job, progress)?;
        // In the order of `todo`: the union-find takes the pieces as a run on one machine.
        for (&i, keys) in job.todo.iter().zip(results) {
            let file = job
                .pieces
                .get(i)
                .and_then(|p| job.files.get(p.file))
                .ok_or_else(|| engine_error(format!("piece {i} of {}", job.pieces.len())))?;
            if let Some(p) = progress {
                p(&format!("[join] {}", file.rel), keys.rows());
            }
            let path = keys_file(&spill, i);
            read_keys(&path, file.source, keys.rows(), take)?;
            let _ = std::fs::remove_file(&path);
            take.file(i, keys)?;
        }
        Ok(())
    }

    /// One Ballista job: per source, a split node over its files whose rows a hash
    /// repartition by bucket sends to the checks node's partitions (Ballista's shuffle),
    /// then the checks of every bucket. The split's per-file results (reports, control
    /// totals, linkable deaths) go to the spill folder, where the checks and the driver
    /// read them; the files' rejected rows beside them, for the driver alone.
    fn split_and_check(
        &self,
        job: &SplitJob,
        map: BucketMap,
        plan: &ChecksPlan,
        progress: Option<Progress<'_>>,
    ) -> Result<(Vec<FileSplit>, Vec<BucketResult>, SplitTook), EngineError> {
        let t = std::time::Instant::now();
        let mut job = job.clone();
        let spill = shared_paths(&mut job.spill, &mut job.files)?;
        map.write(&spill.join(MAP_FILE))?;
        drop(map);
        let split_path = spill.join(SPLIT_FILE);
        let bytes = serde_json::to_vec(&job).map_err(engine_error)?;
        std::fs::write(&split_path, bytes)
            .map_err(|e| engine_error(format!("{}: {e}", split_path.display())))?;
        let mut plan = plan.clone();
        plan.spill = spill.clone();
        let k = plan.buckets();
        let n = u32::try_from(job.pieces.len()).map_err(engine_error)?;
        let files: Vec<(SourceKind, Vec<u32>)> = SourceKind::ALL
            .iter()
            .map(|&s| {
                let of: Vec<u32> = (0..n)
                    .filter(|&i| job.files[job.pieces[i as usize].file].source == s)
                    .collect();
                (s, of)
            })
            .filter(|(_, of)| !of.is_empty())
            .collect();
        let checks = ChecksJob {
            plan,
            rels: job.files.iter().map(|f| f.rel.clone()).collect(),
            pieces: job.pieces.clone(),
        };
        let job_ref = JobRef {
            stage: Stage::Buckets,
            job: spill.join(JOB_FILE),
            tasks: u32::try_from(k).map_err(engine_error)?,
            sources: Vec::new(),
            files,
            split: Some(split_path),
        };
        let results: Vec<BucketResult> = self.stage(job_ref, &checks, progress)?;
        let splits = read_whole_splits(&spill, job.pieces.len())
            .map_err(|e| engine_error(first_line(&e.to_string())))?;
        let splits = merge_pieces(&job.pieces, job.files.len(), splits)?;
        // The executors are other processes: their memory is not this run's to measure.
        let took = SplitTook {
            ms: t.elapsed().as_millis() as u64,
            peak: None,
            buckets_peak: None,
        };
        Ok((splits, results, took))
    }
}

/// The first line of an error, trimmed: a run fails with one clear line.
fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or("").trim().to_string()
}

/// `qianbiao scheduler`: a Ballista scheduler that knows qianbiao's plan nodes.
pub fn run_scheduler(bind: &str, port: u16, executor_timeout_seconds: u64) -> anyhow::Result<()> {
    init_log();
    use ballista_core::config::TaskSchedulingPolicy;
    use ballista_scheduler::cluster::BallistaCluster;
    use ballista_scheduler::config::SchedulerConfig;
    let config = SchedulerConfig {
        bind_host: bind.to_string(),
        bind_port: port,
        executor_timeout_seconds,
        expire_dead_executor_interval_seconds: executor_timeout_seconds.clamp(1, 15),
        // Executors ask for tasks when a slot is free (as in the standalone cluster).
        // Pushed tasks are counted against an executor's slots on the scheduler, and
        // Ballista 55 never gives back the slot of a task that ends in a stage rolled
        // back after another executor was lost: with one slot, the surviving executor
        // then never gets a task again and the job waits for ever.
        scheduling_policy: TaskSchedulingPolicy::PullStaged,
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
    /// Shuffle files.
    pub work_dir: Option<String>,
    /// The bytes of a bucket's source the checks hold in memory before they spill
    /// (`--spill-above`; None: [`HELD_BYTES`], never).
    pub spill_above: Option<u64>,
}

/// Ballista's log lines on stderr, for the scheduler and executor processes: `RUST_LOG`
/// chooses (`info`, `ballista_scheduler=debug`, ...), warnings and errors by default.
fn init_log() {
    let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn"))
        .try_init();
}

/// `qianbiao executor`: a Ballista executor that runs qianbiao's bucket stage.
pub fn run_executor(s: &ExecutorSettings) -> anyhow::Result<()> {
    init_log();
    use ballista_core::config::TaskSchedulingPolicy;
    use ballista_executor::executor_process::{start_executor_process, ExecutorProcessConfig};
    // Without `--work-dir`, a temporary folder held for the life of the process and
    // removed when it stops (Ctrl-C, SIGTERM). Ballista's own default names a temporary
    // folder it drops at once, which the shuffle writers make again and nobody removes.
    let temp = match &s.work_dir {
        Some(_) => None,
        None => Some(
            tempfile::Builder::new()
                .prefix("qianbiao-executor-")
                .tempdir()?,
        ),
    };
    let work_dir = match (&s.work_dir, &temp) {
        (Some(w), _) => Some(w.clone()),
        (None, Some(t)) => Some(
            t.path()
                .to_str()
                .ok_or_else(|| anyhow::anyhow!("{} is not UTF-8", t.path().display()))?
                .to_string(),
        ),
        (None, None) => None,
    };
    if let Some(w) = &work_dir {
        let _ = SPILL_DIR.set(PathBuf::from(w));
    }
    if let Some(bytes) = s.spill_above {
        let _ = HELD.set(usize::try_from(bytes).unwrap_or(usize::MAX));
    }
    let config = ExecutorProcessConfig {
        bind_host: s.bind.clone(),
        port: s.port,
        grpc_port: s.grpc_port,
        scheduler_host: s.scheduler_host.clone(),
        scheduler_port: s.scheduler_port,
        vcores: s.slots.max(1),
        work_dir,
        // The scheduler's policy (`run_scheduler`).
        task_scheduling_policy: TaskSchedulingPolicy::PullStaged,
        override_logical_codec: Some(Arc::new(QianbiaoLogicalCodec::default())),
        override_physical_codec: Some(Arc::new(QianbiaoPhysicalCodec::default())),
        override_config_producer: Some(Arc::new(session_config)),
        ..Default::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(start_executor_process(Arc::new(config)))?;
    drop(temp);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_bucket_key_is_hashed_to_its_own_partition() {
        use datafusion::physical_plan::repartition::BatchPartitioner;
        for k in [1usize, 2, 3, 4, 7, 64, 1000] {
            let keys = bucket_keys(k).unwrap();
            assert_eq!(keys.len(), k);
            let schema = Arc::new(Schema::new(vec![Field::new(
                KEY_COLUMN,
                DataType::UInt32,
                false,
            )]));
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![Arc::new(UInt32Array::from(keys.clone()))],
            )
            .unwrap();
            let key = datafusion::physical_expr::expressions::col(KEY_COLUMN, &schema).unwrap();
            let mut partitioner =
                BatchPartitioner::new_hash_partitioner(vec![key], k, Default::default()).unwrap();
            let mut seen = vec![None; k];
            partitioner
                .partition(batch, |p, part| {
                    let col = part
                        .column(0)
                        .as_any()
                        .downcast_ref::<UInt32Array>()
                        .unwrap();
                    for v in col.values() {
                        let b = keys.iter().position(|x| x == v).unwrap();
                        seen[b] = Some(p);
                    }
                    Ok(())
                })
                .unwrap();
            for (b, p) in seen.iter().enumerate() {
                assert_eq!(*p, Some(b), "K={k}: bucket {b}'s key went to {p:?}");
            }
        }
    }

    /// A shuffled batch of deposits-like rows: an amount column, then the split's columns.
    fn shuffled(amounts: &[i64], key: u32, part: u64, rows: &[u32]) -> RecordBatch {
        RecordBatch::try_new(
            shuffled_schema(),
            vec![
                Arc::new(arrow::array::Int64Array::from(amounts.to_vec())),
                Arc::new(UInt32Array::from(vec![key; amounts.len()])),
                Arc::new(arrow::array::UInt64Array::from(vec![part; amounts.len()])),
                Arc::new(UInt32Array::from(rows.to_vec())),
            ],
        )
        .unwrap()
    }

    fn shuffled_schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("amount", DataType::Int64, true),
            Field::new(KEY_COLUMN, DataType::UInt32, false),
            Field::new(PART_COLUMN, DataType::UInt64, false),
            Field::new(ROW_COLUMN, DataType::UInt32, false),
        ]))
    }

    #[test]
    fn a_buckets_rows_come_back_in_read_order_whatever_the_shuffle_order() {
        // File 2's part 0, file 1's parts 1 and 0, as the shuffle may hand them over
        // (and a part cut in two).
        let batches = vec![
            shuffled(&[20, 21], 9, 2 << 32, &[0, 1]),
            shuffled(&[12], 9, (1 << 32) | 1, &[1]),
            shuffled(&[13], 9, (1 << 32) | 1, &[0]),
            shuffled(&[10, 11], 9, 1 << 32, &[0, 1]),
        ];
        let frames = bucket_frames(SourceKind::Deposits, 9, &batches).unwrap();
        let amounts: Vec<i64> = frames
            .iter()
            .flat_map(|df| {
                df.column("amount")
                    .unwrap()
                    .i64()
                    .unwrap()
                    .into_no_null_iter()
                    .collect::<Vec<_>>()
            })
            .collect();
        assert_eq!(amounts, [10, 11, 13, 12, 20, 21]);
        // Only the part's own columns reach the stage.
        assert_eq!(frames[0].width(), 1);
        // Nothing: no frame.
        assert!(bucket_frames(SourceKind::Deposits, 9, &[])
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_buckets_rows_spilled_as_they_come_read_back_in_read_order_from_an_unnamed_file() {
        let batches = [
            shuffled(&[20, 21], 9, 2 << 32, &[0, 1]),
            shuffled(&[12], 9, (1 << 32) | 1, &[1]),
            shuffled(&[13], 9, (1 << 32) | 1, &[0]),
            shuffled(&[10, 11], 9, 1 << 32, &[0, 1]),
        ];
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let stream_of = |items: Vec<DfResult<RecordBatch>>| -> SendableRecordBatchStream {
            Box::pin(RecordBatchStreamAdapter::new(
                shuffled_schema(),
                futures::stream::iter(items),
            ))
        };
        // Held in memory, spilled from the first batch on, and spilled from the third.
        let one = batches[0].get_array_memory_size();
        for (held, spills) in [(usize::MAX, false), (0, true), (2 * one, true)] {
            let mut stream = stream_of(batches.iter().cloned().map(Ok).collect());
            let mut spilled = Spilled::take(
                SourceKind::Deposits,
                9,
                (dir.path(), held),
                runtime.handle(),
                &mut stream,
            )
            .unwrap();
            assert_eq!(spilled.spilled(), spills, "{held}");
            // The spill file has no name: nothing is left in the folder, whatever happens.
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
            let mut amounts = Vec::new();
            let mut held_after = Vec::new();
            while let Some(df) = spilled.next_frame().unwrap() {
                assert_eq!(df.width(), 1, "only the part's own columns");
                amounts.extend(
                    df.column("amount")
                        .unwrap()
                        .i64()
                        .unwrap()
                        .into_no_null_iter(),
                );
                held_after.push(spilled.held());
            }
            assert_eq!(amounts, [10, 11, 13, 12, 20, 21], "{held}");
            // In memory, each batch is let go once its rows are handed over.
            if !spills {
                assert_eq!(held_after, [3, 2, 1, 0], "{held}");
            }
        }
        // The shuffle's own error comes back as it is; a row of another bucket fails.
        let mut failing = stream_of(vec![
            Ok(shuffled(&[10], 9, 1 << 32, &[0])),
            Err(DataFusionError::Execution("fetch failed".into())),
        ]);
        let e = Spilled::take(
            SourceKind::Deposits,
            9,
            (dir.path(), 0),
            runtime.handle(),
            &mut failing,
        )
        .err()
        .unwrap();
        assert!(e.to_string().contains("fetch failed"), "{e}");
        let mut other = stream_of(vec![Ok(shuffled(&[10], 4, 1 << 32, &[0]))]);
        let e = Spilled::take(
            SourceKind::Deposits,
            9,
            (dir.path(), 0),
            runtime.handle(),
            &mut other,
        )
        .err()
        .unwrap();
        assert!(e.to_string().contains("another bucket"), "{e}");
    }

    #[test]
    fn rows_of_another_bucket_or_rows_given_twice_fail_the_bucket() {
        let part = 1 << 32;
        let cases: Vec<(Vec<RecordBatch>, &str)> = vec![
            (
                vec![
                    shuffled(&[10], 9, part, &[0]),
                    shuffled(&[11], 4, part, &[1]),
                ],
                "another bucket (key 4, not 9)",
            ),
            (
                vec![
                    shuffled(&[10, 11], 9, part, &[0, 1]),
                    shuffled(&[10, 11], 9, part, &[0, 1]),
                ],
                "rows twice",
            ),
            (
                vec![
                    shuffled(&[10], 9, part, &[0]),
                    shuffled(&[12], 9, part, &[2]),
                ],
                "lost some deposits rows",
            ),
            // A part's first row missing.
            (vec![shuffled(&[11], 9, part, &[1])], "lost some"),
        ];
        for (batches, want) in cases {
            let e = bucket_frames(SourceKind::Deposits, 9, &batches)
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{e}");
        }
    }

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

    #[test]
    fn results_come_from_the_spill_folder_and_a_failed_job_gives_them_only_when_all_are_there() {
        let tmp = tempfile::tempdir().unwrap();
        let spill = tmp.path();
        let failed = || Err(df_error("Job 1 failed: fetch from a lost executor"));
        let write = |i: usize, bytes: &[u8]| {
            write_result(&task_result_file(spill, Stage::Buckets, i), bytes).unwrap()
        };
        let whole = serde_json::to_vec(&BucketResult::default()).unwrap();
        write(0, &whole);
        // Bucket 1 missing: the job's error if it failed, else the missing result.
        let e = task_results::<BucketResult>(spill, Stage::Buckets, 2, "bucket", failed())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "cluster: Execution error: Job 1 failed: fetch from a lost executor"
        );
        let e = task_results::<BucketResult>(spill, Stage::Buckets, 2, "bucket", Ok(()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("bucket 1: no result"), "{e}");
        // Every result there: the results, in bucket order, whether or not the job failed.
        write(1, &whole);
        for ended in [Ok(()), failed()] {
            let got =
                task_results::<BucketResult>(spill, Stage::Buckets, 2, "bucket", ended).unwrap();
            assert_eq!(got.len(), 2);
        }
        // Bytes that are not a result: an error, never a default.
        write(1, b"{}");
        let e = task_results::<BucketResult>(spill, Stage::Buckets, 2, "bucket", Ok(()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("bucket 1"), "{e}");
        // A keys task's result is another file: none here.
        let e = task_results::<FileKeys>(spill, Stage::Keys, 1, "file", Ok(()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("file 0: no result"), "{e}");
    }

    #[test]
    fn the_checks_read_a_files_split_without_its_rejected_rows_and_the_driver_with_them() {
        let tmp = tempfile::tempdir().unwrap();
        let spill = tmp.path();
        let row = |line: u32| {
            serde_json::json!({
                "source": "payments",
                "file": "payments.csv",
                "line": line,
                "reason": "`amount`: negative",
                "raw": "T7,37132319900101123X,王涛,-320.00",
            })
        };
        let mut whole = serde_json::to_value(FileSplit::default()).unwrap();
        whole["rejected"] = serde_json::json!([row(7), row(9), row(8)]);
        let split: FileSplit = serde_json::from_value(whole.clone()).unwrap();
        write_split_result(spill, 0, split).unwrap();
        // What every bucket reads holds no rejected row, not even its text.
        let checks_bytes = std::fs::read(split_result_file(spill, 0)).unwrap();
        assert!(!String::from_utf8(checks_bytes).unwrap().contains("王涛"));
        let checks = read_splits(spill, 1).unwrap();
        let mut without = whole.clone();
        without["rejected"] = serde_json::json!([]);
        assert_eq!(serde_json::to_value(&checks[0]).unwrap(), without);
        // The driver gets the file's split whole, its rejected rows in their order.
        let driver = read_whole_splits(spill, 1).unwrap();
        assert_eq!(serde_json::to_value(&driver[0]).unwrap(), whole);
        // A split whose rejected rows are missing is an error, never a file without them.
        std::fs::remove_file(rejected_file(spill, 0)).unwrap();
        let e = read_whole_splits(spill, 1).unwrap_err().to_string();
        assert!(e.contains("rejected-000000.json"), "{e}");
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
            pieces: Vec::new(),
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
            sources: vec![SourceKind::Payments],
            files: Vec::new(),
            split: None,
        };
        let exec = StageExec::new(
            job.stage,
            job.job.clone(),
            work_list(&[1, 3, 4, 8, 9, 10, 12]).unwrap(),
            Vec::new(),
            Some(SourceKind::Payments),
        )
        .unwrap();
        // A split node sends what it is, and is made again from it and its work list.
        assert_eq!(exec.job_ref(), job);
        let again = with_inputs(&job, vec![exec.input.clone()]).unwrap();
        assert_eq!(again.job_ref(), job);
        assert_eq!(again.schema(), exec.schema());
        let exec: Arc<dyn ExecutionPlan> = Arc::new(exec);
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
