// The Functions host loads this file (package.json "main"); each import registers its triggers.
import "./sweep.js";
import "./eventgrid.js";
import "./http.js";
import "./queue.js";
