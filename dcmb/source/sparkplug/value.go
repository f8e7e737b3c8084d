package sparkplug

// This file holds how metric values become text: every Sparkplug B
// datatype, arrays, DataSets and templates.

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	pb "github.com/sealnet/sealnet/dcmb/source/sparkplug/sparkplugpb"
)

// Value renders a metric's value of datatype dt as text: integers in
// decimal (from int_value or long_value, signed types read from their
// two's complement), Float and
// Double as the shortest decimal that reads back the same, Boolean as
// true or false, String, Text and UUID as they are, DateTime as RFC 3339
// UTC (milliseconds), Bytes and File as the raw bytes, arrays (Sparkplug
// 3.0's packed little-endian encoding) and DataSets as JSON. A null
// metric is an empty value.
func Value(m *pb.Payload_Metric, dt uint32) ([]byte, error) {
	if m.GetIsNull() {
		return []byte{}, nil
	}
	t := pb.DataType(dt)
	want := func(ok bool, field string) error {
		if ok {
			return nil
		}
		if m.Value == nil {
			return fmt.Errorf("%s metric has no value", t)
		}
		return fmt.Errorf("%s metric carries %s, want %s", t, oneofName(m), field)
	}
	switch t {
	case pb.DataType_Int8, pb.DataType_Int16, pb.DataType_Int32, pb.DataType_UInt8, pb.DataType_UInt16, pb.DataType_UInt32,
		pb.DataType_Int64, pb.DataType_UInt64:
		// either integer field: Eclipse Tahu's encoders put UInt32 in
		// long_value (Sparkplug 2.2), the 3.0 specification in int_value
		switch v := m.Value.(type) {
		case *pb.Payload_Metric_IntValue:
			return []byte(intText(t, uint64(v.IntValue))), nil
		case *pb.Payload_Metric_LongValue:
			return []byte(intText(t, v.LongValue)), nil
		}
		return nil, want(false, "int_value or long_value")
	case pb.DataType_DateTime:
		v, ok := m.Value.(*pb.Payload_Metric_LongValue)
		if err := want(ok, "long_value"); err != nil {
			return nil, err
		}
		return []byte(dateTime(v.LongValue)), nil
	case pb.DataType_Float:
		v, ok := m.Value.(*pb.Payload_Metric_FloatValue)
		if err := want(ok, "float_value"); err != nil {
			return nil, err
		}
		return strconv.AppendFloat(nil, float64(v.FloatValue), 'g', -1, 32), nil
	case pb.DataType_Double:
		v, ok := m.Value.(*pb.Payload_Metric_DoubleValue)
		if err := want(ok, "double_value"); err != nil {
			return nil, err
		}
		return strconv.AppendFloat(nil, v.DoubleValue, 'g', -1, 64), nil
	case pb.DataType_Boolean:
		v, ok := m.Value.(*pb.Payload_Metric_BooleanValue)
		if err := want(ok, "boolean_value"); err != nil {
			return nil, err
		}
		return strconv.AppendBool(nil, v.BooleanValue), nil
	case pb.DataType_String, pb.DataType_Text, pb.DataType_UUID:
		v, ok := m.Value.(*pb.Payload_Metric_StringValue)
		if err := want(ok, "string_value"); err != nil {
			return nil, err
		}
		return []byte(v.StringValue), nil
	case pb.DataType_Bytes, pb.DataType_File:
		v, ok := m.Value.(*pb.Payload_Metric_BytesValue)
		if err := want(ok, "bytes_value"); err != nil {
			return nil, err
		}
		return v.BytesValue, nil
	case pb.DataType_DataSet:
		v, ok := m.Value.(*pb.Payload_Metric_DatasetValue)
		if err := want(ok, "dataset_value"); err != nil {
			return nil, err
		}
		return dataSet(v.DatasetValue)
	}
	if dt >= uint32(pb.DataType_Int8Array) && dt <= uint32(pb.DataType_DateTimeArray) {
		v, ok := m.Value.(*pb.Payload_Metric_BytesValue)
		if err := want(ok, "bytes_value"); err != nil {
			return nil, err
		}
		return array(t, v.BytesValue)
	}
	if dt == 0 {
		return nil, errors.New("no datatype in the metric or its birth")
	}
	return nil, fmt.Errorf("datatype %s (%d) is not read", t, dt)
}

// intText reads an integer of type t from the low bits of v.
func intText(t pb.DataType, v uint64) string {
	switch t {
	case pb.DataType_Int8, pb.DataType_Int8Array:
		return strconv.FormatInt(int64(int8(v)), 10)
	case pb.DataType_Int16, pb.DataType_Int16Array:
		return strconv.FormatInt(int64(int16(v)), 10)
	case pb.DataType_Int32, pb.DataType_Int32Array:
		return strconv.FormatInt(int64(int32(v)), 10)
	case pb.DataType_Int64, pb.DataType_Int64Array:
		return strconv.FormatInt(int64(v), 10)
	case pb.DataType_UInt8, pb.DataType_UInt8Array:
		return strconv.FormatUint(uint64(uint8(v)), 10)
	case pb.DataType_UInt16, pb.DataType_UInt16Array:
		return strconv.FormatUint(uint64(uint16(v)), 10)
	case pb.DataType_UInt32, pb.DataType_UInt32Array:
		return strconv.FormatUint(uint64(uint32(v)), 10)
	}
	return strconv.FormatUint(v, 10)
}

func dateTime(ms uint64) string {
	return time.UnixMilli(int64(ms)).UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// array decodes Sparkplug 3.0's packed arrays into a JSON array.
func array(t pb.DataType, b []byte) ([]byte, error) {
	size := map[pb.DataType]int{
		pb.DataType_Int8Array: 1, pb.DataType_UInt8Array: 1, pb.DataType_Int16Array: 2, pb.DataType_UInt16Array: 2,
		pb.DataType_Int32Array: 4, pb.DataType_UInt32Array: 4, pb.DataType_FloatArray: 4,
		pb.DataType_Int64Array: 8, pb.DataType_UInt64Array: 8, pb.DataType_DoubleArray: 8, pb.DataType_DateTimeArray: 8,
	}[t]
	var out []string
	switch t {
	case pb.DataType_BooleanArray:
		if len(b) < 4 {
			return nil, errors.New("BooleanArray shorter than its 4-byte count")
		}
		n := int(binary.LittleEndian.Uint32(b))
		if (n+7)/8 != len(b)-4 {
			return nil, fmt.Errorf("BooleanArray of %d values in %d bytes", n, len(b)-4)
		}
		for i := range n {
			out = append(out, strconv.FormatBool(b[4+i/8]&(0x80>>(i%8)) != 0))
		}
	case pb.DataType_StringArray:
		if len(b) > 0 && b[len(b)-1] != 0 {
			return nil, errors.New("StringArray not terminated by a NUL")
		}
		if len(b) > 0 {
			for _, s := range strings.Split(string(b[:len(b)-1]), "\x00") {
				q, _ := json.Marshal(s)
				out = append(out, string(q))
			}
		}
	default:
		if len(b)%size != 0 {
			return nil, fmt.Errorf("%s of %d bytes is not a whole number of %d-byte values", t, len(b), size)
		}
		for i := 0; i < len(b); i += size {
			var v uint64
			for j := size - 1; j >= 0; j-- {
				v = v<<8 | uint64(b[i+j])
			}
			switch t {
			case pb.DataType_FloatArray:
				f := math.Float32frombits(uint32(v))
				out = append(out, jsonFloat(float64(f), 32))
			case pb.DataType_DoubleArray:
				out = append(out, jsonFloat(math.Float64frombits(v), 64))
			case pb.DataType_DateTimeArray:
				out = append(out, `"`+dateTime(v)+`"`)
			default:
				out = append(out, intText(t, v))
			}
		}
	}
	return []byte("[" + strings.Join(out, ",") + "]"), nil
}

// jsonFloat writes a float for JSON; NaN and infinities, which JSON
// lacks, as strings.
func jsonFloat(f float64, bits int) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return `"` + strconv.FormatFloat(f, 'g', -1, bits) + `"`
	}
	return strconv.FormatFloat(f, 'g', -1, bits)
}

// dataSet renders a DataSet as {"columns":[...],"types":[...],"rows":[[...],...]}.
func dataSet(d *pb.Payload_DataSet) ([]byte, error) {
	if len(d.Types) != len(d.Columns) {
		return nil, fmt.Errorf("DataSet with %d columns and %d types", len(d.Columns), len(d.Types))
	}
	types := make([]string, len(d.Types))
	for i, t := range d.Types {
		types[i] = pb.DataType(t).String()
	}
	cols, _ := json.Marshal(d.Columns)
	tys, _ := json.Marshal(types)
	var rows []string
	for ri, row := range d.Rows {
		if len(row.Elements) != len(d.Columns) {
			return nil, fmt.Errorf("DataSet row %d has %d values for %d columns", ri, len(row.Elements), len(d.Columns))
		}
		var cells []string
		for ci, e := range row.Elements {
			c, err := cell(pb.DataType(d.Types[ci]), e)
			if err != nil {
				return nil, fmt.Errorf("DataSet row %d column %q: %w", ri, d.Columns[ci], err)
			}
			cells = append(cells, c)
		}
		rows = append(rows, "["+strings.Join(cells, ",")+"]")
	}
	return []byte(`{"columns":` + string(cols) + `,"types":` + string(tys) + `,"rows":[` + strings.Join(rows, ",") + `]}`), nil
}

func cell(t pb.DataType, e *pb.Payload_DataSet_DataSetValue) (string, error) {
	switch v := e.Value.(type) {
	case *pb.Payload_DataSet_DataSetValue_IntValue:
		return intText(t, uint64(v.IntValue)), nil
	case *pb.Payload_DataSet_DataSetValue_LongValue:
		if t == pb.DataType_DateTime {
			return `"` + dateTime(v.LongValue) + `"`, nil
		}
		return intText(t, v.LongValue), nil
	case *pb.Payload_DataSet_DataSetValue_FloatValue:
		return jsonFloat(float64(v.FloatValue), 32), nil
	case *pb.Payload_DataSet_DataSetValue_DoubleValue:
		return jsonFloat(v.DoubleValue, 64), nil
	case *pb.Payload_DataSet_DataSetValue_BooleanValue:
		return strconv.FormatBool(v.BooleanValue), nil
	case *pb.Payload_DataSet_DataSetValue_StringValue:
		q, _ := json.Marshal(v.StringValue)
		return string(q), nil
	case nil:
		return "null", nil
	}
	return "", fmt.Errorf("unreadable %T", e.Value)
}

// oneofName is the field name of a metric's value.
func oneofName(m *pb.Payload_Metric) string {
	if fd := m.ProtoReflect().WhichOneof(m.ProtoReflect().Descriptor().Oneofs().ByName("value")); fd != nil {
		return string(fd.Name())
	}
	return "no value"
}
