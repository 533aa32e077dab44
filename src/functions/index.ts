// The Functions host loads this file (package.json "main"); each import registers its triggers.
// Telemetry first, so the triggers' Azure SDK calls are traced from the start.
import "./telemetry.js";
import "./sweep.js";
import "./eventgrid.js";
import "./http.js";
import "./queue.js";
