import re

import numpy as np
import pytest

from vimpnn.errors import InputFormatError
from vimpnn.structures.qm9 import SHIPPED, open_qm9, read_qm9pack_csv, read_xyz

CH4 = """5
gdb 1\t157.7118\t157.70997\t157.70699\t0.\t13.21\t-0.3877\t0.1171\t0.5048\t35.3641\t0.044749\t-40.47893\t-40.476062\t-40.475117\t-40.498597\t6.469\t
C\t-0.0126981359\t 1.0858041578\t 0.0080009958\t-0.535689
H\t 0.002150416\t-0.0060313176\t 0.0019761204\t 0.133921
H\t 1.0117308433\t 1.4637511618\t 0.0002765748\t 0.133922
H\t-0.540815069\t 1.4475266138\t-0.8766437152\t 0.133923
H\t-0.5238136345\t 1.4379326443\t 2.1997*^-6\t 0.133923
1341.307\t1341.3284
C\tC
InChI=1S/CH4/h1H4\tInChI=1S/CH4/h1H4
"""


def test_first_molecules_are_ch4_nh3_h2o():
    recs = list(open_qm9({"source": "shipped"}, 3))
    assert [r.index for r in recs] == [1, 2, 3]
    assert [sorted(r.symbols) for r in recs] == [["C", "H", "H", "H", "H"], ["H", "H", "H", "N"], ["H", "H", "O"]]
    np.testing.assert_allclose(recs[0].positions[0], [-0.0127, 1.0858, 0.0080], atol=1e-4)
    assert recs[0].symbols[0] == "C" and recs[0].smiles == "C"


def test_shipped_file_holds_readme_count():
    readme = (SHIPPED.parent / "README.md").read_text()
    count = int(re.search(r"molecules \| ([\d,]+)", readme).group(1).replace(",", ""))
    indices = [r.index for r in read_xyz(SHIPPED)]
    assert len(indices) == count == 10000
    assert indices[-1] == 10276 and 58 not in indices and indices == sorted(indices)


def test_mathematica_exponent_and_single_file(tmp_path):
    f = tmp_path / "dsgdb9nsd_000001.xyz"
    f.write_text(CH4)
    (rec,) = list(read_xyz(tmp_path))  # directory of dsgdb9nsd_*.xyz
    assert rec.positions[4, 2] == pytest.approx(2.1997e-6)
    (rec2,) = list(read_xyz(f))
    np.testing.assert_array_equal(rec.positions, rec2.positions)


def test_tarball(tmp_path):
    import tarfile

    f = tmp_path / "dsgdb9nsd_000001.xyz"
    f.write_text(CH4)
    with tarfile.open(tmp_path / "qm9.tar.bz2", "w:bz2") as tar:
        tar.add(f, arcname="dsgdb9nsd_000001.xyz")
    (rec,) = list(read_xyz(tmp_path / "qm9.tar.bz2"))
    assert rec.index == 1 and len(rec.symbols) == 5


def test_reads_lazily_from_gzip():
    # islice over a generator: the first molecule is returned without parsing the other 9,999
    first = next(open_qm9({"source": "xyz", "path": str(SHIPPED)}, 1))
    assert first.index == 1


def test_qm9pack_csv(tmp_path):
    csv = tmp_path / "qm9_part1.csv"
    csv.write_text(
        "XYZ_file,Index,SMILES,InChi,N_atoms,Stoichiometry,Elements,XYZ_Ang,Mulliken_pop\n"
        '"dsgdb9nsd_000003.xyz",3,"O","InChI=1S/H2O/h1H2",3,"[2,0,0,1,0]","[\'O\',\'H\',\'H\']",'
        '"[[-0.0343604951,0.9775395708,0.0076015923],[0.0647664923,0.0205721989,0.0015346341],'
        '[0.8717903737,1.3006071936,0.0006931336]]","[-0.5,0.25,0.25]"\n'
    )
    (rec,) = list(read_qm9pack_csv([csv]))
    assert rec.index == 3 and rec.symbols == ("O", "H", "H") and rec.smiles == "O"
    np.testing.assert_allclose(rec.positions[0], [-0.0343604951, 0.9775395708, 0.0076015923])


def test_truncated_record_names_file_record_line(tmp_path):
    f = tmp_path / "bad.xyz"
    f.write_text("\n".join(CH4.splitlines()[:5]) + "\n")
    with pytest.raises(InputFormatError, match=r"bad\.xyz: record 1 \(line 1\): truncated record"):
        list(read_xyz(f))


def test_non_numeric_coordinate(tmp_path):
    f = tmp_path / "bad.xyz"
    f.write_text(CH4.replace(" 1.4637511618", " 1.46x7"))
    with pytest.raises(InputFormatError, match=r"bad\.xyz: record gdb 1 line 5: coordinate y '1.46x7' is not a number"):
        list(read_xyz(f))


def test_unknown_element(tmp_path):
    f = tmp_path / "bad.xyz"
    f.write_text(CH4 + CH4.replace("gdb 1", "gdb 2").replace("C\t-0.0126", "Xx\t-0.0126"))
    with pytest.raises(InputFormatError, match=r"record gdb 2 line 13: unknown element 'Xx'"):
        list(read_xyz(f))


def test_unknown_source():
    with pytest.raises(InputFormatError, match="qm9.source"):
        open_qm9({"source": "web"}, 1)
