#!/usr/bin/env node
import { runProcess } from "../dist/src/cli/process.js";

runProcess();
