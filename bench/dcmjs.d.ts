// The part of dcmjs the benchmarks use (it ships no types).
declare module 'dcmjs' {
  const dcmjs: { data: { datasetToBuffer(dataset: unknown): ArrayBuffer } };
  export default dcmjs;
}
