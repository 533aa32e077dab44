import { describeMatrix } from "./matrix-suite.js";

describeMatrix((_cell, index) => index % 2 === 1);
