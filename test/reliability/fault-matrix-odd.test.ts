import { describeMatrix } from "./fault-matrix.test.js";

describeMatrix((_cell, index) => index % 2 === 1);
