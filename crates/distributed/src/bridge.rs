//! arrow-rs record batches (DataFusion's) as polars frames (qianbiao's tables read them),
//! through the Arrow C Data Interface: the buffers are shared, not copied.
//!
//! The only unsafe code of the workspace. Both libraries implement the C Data Interface:
//! arrow-rs exports an array as a pair of `#[repr(C)]` structs (`FFI_ArrowArray`,
//! `FFI_ArrowSchema`) and polars-arrow imports the same pair (`ArrowArray`, `ArrowSchema`,
//! also `#[repr(C)]`, field for field the interface's `struct ArrowArray` and `struct
//! ArrowSchema`). The structs are moved across, never duplicated, so each release callback
//! runs exactly once: when polars drops the imported array (or the schema).
#![allow(unsafe_code)]

use arrow::array::{Array, RecordBatch};
use arrow::ffi::{to_ffi, FFI_ArrowArray, FFI_ArrowSchema};
use polars::prelude::{Column, DataFrame, PolarsResult, Series};

/// Moves an arrow-rs array across the C Data Interface into a polars series.
fn series(name: &str, array: &dyn Array) -> Result<Series, String> {
    let (ffi_array, ffi_schema) = to_ffi(&array.to_data()).map_err(|e| e.to_string())?;
    // SAFETY: both types are the C Data Interface's structs (`#[repr(C)]`, same fields in
    // the same order; `transmute` checks the sizes). The values are moved, so arrow-rs
    // will not release them: polars-arrow does, once, when its imports are dropped.
    let schema: polars_arrow::ffi::ArrowSchema = unsafe {
        std::mem::transmute::<FFI_ArrowSchema, polars_arrow::ffi::ArrowSchema>(ffi_schema)
    };
    let c_array: polars_arrow::ffi::ArrowArray =
        unsafe { std::mem::transmute::<FFI_ArrowArray, polars_arrow::ffi::ArrowArray>(ffi_array) };
    // SAFETY: `schema` and `c_array` were exported just above by arrow-rs from a valid
    // array, so they follow the interface.
    let field =
        unsafe { polars_arrow::ffi::import_field_from_c(&schema) }.map_err(|e| e.to_string())?;
    let imported =
        unsafe { polars_arrow::ffi::import_array_from_c(c_array, field.dtype().clone()) }
            .map_err(|e| e.to_string())?;
    Series::from_arrow(name.into(), imported).map_err(|e| e.to_string())
}

/// A record batch as a polars frame, column for column, by name.
pub fn frame(batch: &RecordBatch) -> Result<DataFrame, String> {
    let columns: Vec<Column> = batch
        .schema()
        .fields()
        .iter()
        .zip(batch.columns())
        .map(|(f, a)| series(f.name(), a.as_ref()).map(Column::from))
        .collect::<Result<_, _>>()?;
    let frame: PolarsResult<DataFrame> = DataFrame::new(batch.num_rows(), columns);
    frame.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{
        BooleanArray, Date32Array, Int64Array, StringArray, StringViewArray,
        TimestampNanosecondArray, UInt32Array,
    };
    use arrow::datatypes::{DataType as A, Field, Schema, TimeUnit};
    use polars::prelude::{DataType as P, TimeUnit as PT};
    use std::sync::Arc;

    #[test]
    fn every_column_kind_of_the_spill_crosses_with_its_values_and_nulls() {
        let schema = Schema::new(vec![
            Field::new("id", A::Utf8View, true),
            Field::new("name", A::Utf8, true),
            Field::new("line", A::UInt32, false),
            Field::new("amount", A::Int64, true),
            Field::new("born", A::Date32, true),
            Field::new("paid_at", A::Timestamp(TimeUnit::Nanosecond, None), true),
            Field::new("id_lost", A::Boolean, false),
        ]);
        let batch = RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(StringViewArray::from(vec![
                    Some("371312194001011234"),
                    None,
                    Some("一个超过十二字节的村名字符串"),
                ])),
                Arc::new(StringArray::from(vec![Some("张三"), Some(""), None])),
                Arc::new(UInt32Array::from(vec![2, 3, 4])),
                Arc::new(Int64Array::from(vec![Some(32000), None, Some(-50)])),
                Arc::new(Date32Array::from(vec![Some(-10957), Some(19000), None])),
                Arc::new(TimestampNanosecondArray::from(vec![
                    Some(1_636_070_400_000_000_000),
                    None,
                    Some(0),
                ])),
                Arc::new(BooleanArray::from(vec![false, true, false])),
            ],
        )
        .unwrap();
        let df = frame(&batch).unwrap();
        assert_eq!(df.height(), 3);
        let dtypes: Vec<P> = df.dtypes();
        assert_eq!(
            dtypes,
            vec![
                P::String,
                P::String,
                P::UInt32,
                P::Int64,
                P::Date,
                P::Datetime(PT::Nanoseconds, None),
                P::Boolean
            ]
        );
        let id = df.column("id").unwrap().str().unwrap();
        assert_eq!(id.get(0), Some("371312194001011234"));
        assert_eq!(id.get(1), None);
        assert_eq!(id.get(2), Some("一个超过十二字节的村名字符串"));
        let name = df.column("name").unwrap().str().unwrap();
        assert_eq!(
            (name.get(0), name.get(1), name.get(2)),
            (Some("张三"), Some(""), None)
        );
        let amount = df.column("amount").unwrap().i64().unwrap();
        assert_eq!(amount.get(1), None);
        assert_eq!(amount.get(2), Some(-50));
        let born = df.column("born").unwrap().date().unwrap();
        assert_eq!(born.physical().get(0), Some(-10957));
        assert_eq!(
            df.column("id_lost").unwrap().bool().unwrap().get(1),
            Some(true)
        );
    }

    #[test]
    fn the_values_are_shared_not_copied() {
        let amounts = Int64Array::from(vec![1, 2, 3]);
        let before = amounts.values().as_ptr();
        let schema = Schema::new(vec![Field::new("amount", A::Int64, false)]);
        let batch = RecordBatch::try_new(Arc::new(schema), vec![Arc::new(amounts)]).unwrap();
        let df = frame(&batch).unwrap();
        let ca = df.column("amount").unwrap().i64().unwrap();
        let after = ca.downcast_iter().next().unwrap().values().as_ptr();
        assert_eq!(before, after);
    }

    #[test]
    fn a_sliced_batch_crosses_as_its_slice() {
        let ids = StringViewArray::from(vec!["a", "b", "c", "d"]);
        let schema = Schema::new(vec![Field::new("id", A::Utf8View, false)]);
        let batch = RecordBatch::try_new(Arc::new(schema), vec![Arc::new(ids)])
            .unwrap()
            .slice(1, 2);
        let df = frame(&batch).unwrap();
        let id = df.column("id").unwrap().str().unwrap();
        assert_eq!((id.len(), id.get(0), id.get(1)), (2, Some("b"), Some("c")));
    }
}
