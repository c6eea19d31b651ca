//! arrow-rs record batches (DataFusion's) as polars frames (qianbiao's tables read them),
//! and polars frames (the split's parts) as arrow-rs arrays for Ballista's shuffle, through
//! the Arrow C Data Interface: the buffers are shared, not copied.
//!
//! With `malloc.rs`, the only unsafe code of the workspace. Both libraries implement the
//! C Data Interface: arrow-rs exports an array as a pair of `#[repr(C)]` structs
//! (`FFI_ArrowArray`, `FFI_ArrowSchema`) and polars-arrow imports the same pair
//! (`ArrowArray`, `ArrowSchema`, also `#[repr(C)]`, field for field the interface's
//! `struct ArrowArray` and `struct ArrowSchema`), and the other way. The structs are moved
//! across, never duplicated, so each release callback runs exactly once: when the side
//! that imported the array (or the schema) drops it.
#![allow(unsafe_code)]

use arrow::array::{make_array, Array, ArrayRef, RecordBatch};
use arrow::datatypes::Field;
use arrow::ffi::{from_ffi, to_ffi, FFI_ArrowArray, FFI_ArrowSchema};
use polars::prelude::{Column, CompatLevel, DataFrame, PolarsResult, Series};

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

/// A polars field's Arrow type as an arrow-rs field (nullable), through the interface.
fn arrow_field(name: &str, dtype: &polars::prelude::DataType) -> Result<Field, String> {
    let field = dtype.to_arrow_field(name.into(), CompatLevel::newest());
    let exported = polars_arrow::ffi::export_field_to_c(&field);
    // SAFETY: the same `#[repr(C)]` struct of the interface on both sides (see above);
    // moved, so it is released once, by arrow-rs.
    let schema: FFI_ArrowSchema =
        unsafe { std::mem::transmute::<polars_arrow::ffi::ArrowSchema, FFI_ArrowSchema>(exported) };
    let f = Field::try_from(&schema).map_err(|e| e.to_string())?;
    Ok(f.with_nullable(true))
}

/// The arrow-rs fields of a frame's columns, all nullable.
pub fn fields(df: &DataFrame) -> Result<Vec<Field>, String> {
    df.columns()
        .iter()
        .map(|c| arrow_field(c.name(), c.dtype()))
        .collect()
}

/// Moves a polars column across the C Data Interface into an arrow-rs array (one chunk:
/// the column is rechunked first when it has several).
fn array(c: &Column) -> Result<ArrayRef, String> {
    let series = c.as_materialized_series().rechunk();
    let exported = series.to_arrow(0, CompatLevel::newest());
    let field =
        polars_arrow::datatypes::Field::new(c.name().clone(), exported.dtype().clone(), true);
    let schema = polars_arrow::ffi::export_field_to_c(&field);
    let c_array = polars_arrow::ffi::export_array_to_c(exported);
    // SAFETY: as in `series`, the other way: polars-arrow exported both structs from a
    // valid array, and they are moved, so arrow-rs releases them once.
    let schema: FFI_ArrowSchema =
        unsafe { std::mem::transmute::<polars_arrow::ffi::ArrowSchema, FFI_ArrowSchema>(schema) };
    let c_array: FFI_ArrowArray =
        unsafe { std::mem::transmute::<polars_arrow::ffi::ArrowArray, FFI_ArrowArray>(c_array) };
    // SAFETY: exported just above, following the interface.
    let data = unsafe { from_ffi(c_array, &schema) }.map_err(|e| e.to_string())?;
    Ok(make_array(data))
}

/// A polars frame's columns as arrow-rs arrays, in order.
pub fn arrays(df: &DataFrame) -> Result<Vec<ArrayRef>, String> {
    df.columns().iter().map(array).collect()
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
    fn a_frame_crosses_to_arrow_rs_and_back_with_its_values_types_and_buffers() {
        use polars::prelude::{IntoColumn, NamedFrom};
        let df = DataFrame::new(
            3,
            vec![
                Series::new(
                    "id".into(),
                    &[
                        Some("371312194001011234"),
                        None,
                        Some("一个超过十二字节的村名字符串"),
                    ],
                )
                .into_column(),
                Series::new("amount".into(), &[Some(32000i64), None, Some(-50)]).into_column(),
                Series::new("line".into(), &[2u32, 3, 4]).into_column(),
                Series::new("id_lost".into(), &[false, true, false]).into_column(),
                Series::new("born".into(), &[Some(-10957i32), Some(19000), None])
                    .cast(&P::Date)
                    .unwrap()
                    .into_column(),
            ],
        )
        .unwrap();
        let fields = fields(&df).unwrap();
        let arrays = arrays(&df).unwrap();
        let kinds: Vec<A> = fields.iter().map(|f| f.data_type().clone()).collect();
        assert_eq!(
            kinds,
            vec![A::Utf8View, A::Int64, A::UInt32, A::Boolean, A::Date32]
        );
        assert!(fields.iter().all(|f| f.is_nullable()));
        // The values' buffer is polars' own.
        let before = df
            .column("amount")
            .unwrap()
            .i64()
            .unwrap()
            .downcast_iter()
            .next()
            .unwrap()
            .values()
            .as_ptr();
        let amounts = arrays[1].as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(amounts.values().as_ptr(), before);
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap();
        let back = frame(&batch).unwrap();
        assert!(back.equals_missing(&df), "{back}\n{df}");
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
