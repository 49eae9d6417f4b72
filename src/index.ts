// Entry point of the bundle that the shim loads into Orthanc.
import { startPlugin } from './main';

startPlugin();
